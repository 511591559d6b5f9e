//! Message ids: the broker's offset message id, the client's unique id (`UNIQ_KEY`), and Java's
//! `String.hashCode` (used for tag hash codes).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{ProtocolError, Result};

const HEX: &[u8; 16] = b"0123456789ABCDEF";
const MS_PER_DAY: i64 = 86_400_000;

fn push_hex(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0x0F) as usize] as char);
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Decode hex text (either case) into `out`, which must be exactly half its length.
fn decode_hex(text: &[u8], out: &mut [u8]) -> Option<()> {
    if text.len() != out.len() * 2 {
        return None;
    }
    for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *o = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
    }
    Some(())
}

fn ip_bytes(ip: &IpAddr, buf: &mut [u8; 16]) -> usize {
    match ip {
        IpAddr::V4(v4) => {
            buf[..4].copy_from_slice(&v4.octets());
            4
        }
        IpAddr::V6(v6) => {
            buf.copy_from_slice(&v6.octets());
            16
        }
    }
}

/// The IP address in the first 4 or 16 bytes of `raw`.
fn ip_from(raw: &[u8], ip_len: usize) -> IpAddr {
    if ip_len == 4 {
        IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]))
    } else {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&raw[..16]);
        IpAddr::V6(Ipv6Addr::from(octets))
    }
}

/// The broker's message id (`offsetMsgId`): store host IP, port (`i32`) and commit-log offset (`i64`),
/// as upper-case hex — 32 characters for an IPv4 store host, 56 for IPv6.
///
/// ```
/// use rmq_protocol::message::{create_offset_msg_id, decode_offset_msg_id};
///
/// let addr = "10.0.0.1:10911".parse().unwrap();
/// let id = create_offset_msg_id(addr, 0x1234);
/// assert_eq!(id, "0A00000100002A9F0000000000001234");
/// assert_eq!(decode_offset_msg_id(&id).unwrap(), (addr, 0x1234));
/// ```
pub fn create_offset_msg_id(store_host: SocketAddr, commit_log_offset: i64) -> String {
    let mut raw = [0u8; 16];
    let ip_len = ip_bytes(&store_host.ip(), &mut raw);
    let mut id = String::with_capacity((ip_len + 12) * 2);
    push_hex(&mut id, &raw[..ip_len]);
    push_hex(&mut id, &i32::from(store_host.port()).to_be_bytes());
    push_hex(&mut id, &commit_log_offset.to_be_bytes());
    id
}

/// Decode an `offsetMsgId` into the store host address and commit-log offset.
///
/// Accepts 32 (IPv4) or 56 (IPv6) hex characters of either case; anything else, or a port outside
/// 0..=65535, is a [`ProtocolError::InvalidField`].
pub fn decode_offset_msg_id(id: &str) -> Result<(SocketAddr, i64)> {
    let bad = || ProtocolError::invalid_field("offsetMsgId", id);
    let mut raw = [0u8; 28];
    let ip_len = match id.len() {
        32 => 4,
        56 => 16,
        _ => return Err(bad()),
    };
    let raw = &mut raw[..ip_len + 12];
    decode_hex(id.as_bytes(), raw).ok_or_else(bad)?;
    let ip = ip_from(raw, ip_len);
    let port = i32::from_be_bytes([raw[ip_len], raw[ip_len + 1], raw[ip_len + 2], raw[ip_len + 3]]);
    let port = u16::try_from(port).map_err(|_| bad())?;
    let mut offset = [0u8; 8];
    offset.copy_from_slice(&raw[ip_len + 4..]);
    Ok((SocketAddr::new(ip, port), i64::from_be_bytes(offset)))
}

/// Java's `String.hashCode()`: `h = 31 * h + c` over the UTF-16 code units, wrapping, as an `i32`.
///
/// The broker filters by tag hash codes computed this way (`SubscriptionData.codeSet`).
///
/// ```
/// assert_eq!(rmq_protocol::message::java_string_hash("TagA"), 2_598_919);
/// ```
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit)))
}

/// Milliseconds since 00:00:00.000 on the first day of the month containing `now_ms`, in a time zone
/// `utc_offset_ms` ahead of UTC. `now_ms` is ms since the Unix epoch.
fn ms_since_month_start(now_ms: i64, utc_offset_ms: i64) -> i64 {
    let local = now_ms.saturating_add(utc_offset_ms);
    let days = local.div_euclid(MS_PER_DAY);
    // Howard Hinnant's civil_from_days, day-of-month part only.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day_of_month = doy - (153 * mp + 2) / 5 + 1;
    local - (days - (day_of_month - 1)) * MS_PER_DAY
}

/// The parts of a client message id (`UNIQ_KEY`), see [`parse_unique_id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqueIdParts {
    /// The client's address (IPv4 for a 32-character id, IPv6 for 56).
    pub ip: IpAddr,
    /// Low 16 bits of the client's process id.
    pub pid: u16,
    /// The per-process value (Java: class-loader hash code).
    pub salt: i32,
    /// Milliseconds since the start of the month (in the client's time zone) when the id was made; wraps
    /// to negative values late in long months, exactly as Java's `int` cast does.
    pub ms_since_month_start: i32,
    /// Low 16 bits of the client's counter.
    pub counter: u16,
}

/// Split a client message id into its parts (Java `MessageClientIDSetter.getIPFromID`, `getPidFromID`).
///
/// Accepts 32 or 56 hex characters of either case; anything else is a [`ProtocolError::InvalidField`].
pub fn parse_unique_id(id: &str) -> Result<UniqueIdParts> {
    let bad = || ProtocolError::invalid_field("UNIQ_KEY", id);
    let ip_len = match id.len() {
        32 => 4,
        56 => 16,
        _ => return Err(bad()),
    };
    let mut raw = [0u8; 28];
    let raw = &mut raw[..ip_len + 12];
    decode_hex(id.as_bytes(), raw).ok_or_else(bad)?;
    let ip = ip_from(raw, ip_len);
    let r = &raw[ip_len..];
    Ok(UniqueIdParts {
        ip,
        pid: u16::from_be_bytes([r[0], r[1]]),
        salt: i32::from_be_bytes([r[2], r[3], r[4], r[5]]),
        ms_since_month_start: i32::from_be_bytes([r[6], r[7], r[8], r[9]]),
        counter: u16::from_be_bytes([r[10], r[11]]),
    })
}

/// A per-process random `i32`, standing for Java's class-loader hash code.
fn process_salt() -> i32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    if let Ok(d) = SystemTime::now().duration_since(UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish() as i32
}

/// Generates client message ids (`UNIQ_KEY`) in the format of Java's `MessageClientIDSetter`.
///
/// Layout (upper-case hex, 32 characters for an IPv4 address, 56 for IPv6):
/// `ip (4|16) + pid (low 16 bits) + per-process random i32 + ms since the start of the month (i32) + counter
/// (low 16 bits)`. The first three parts are rendered once; [`next_id`](Self::next_id) costs one `String`
/// allocation and an atomic increment, and is safe to call from many threads.
///
/// Java computes the month start in the JVM's local time zone. This crate has no time-zone database, so
/// the month start is computed in UTC unless a fixed offset is given with
/// [`with_utc_offset`](Self::with_utc_offset). The time part only has to be unique-ish, so the choice is
/// invisible to brokers and other clients.
#[derive(Debug)]
pub struct UniqueIdGenerator {
    prefix: String,
    utc_offset_ms: i64,
    counter: Counter,
}

/// Java keeps one counter per JVM (`MessageClientIDSetter.COUNTER`); generators made with
/// [`UniqueIdGenerator::new`] share this one, so every producer of a process draws from one sequence.
static PROCESS_COUNTER: AtomicU32 = AtomicU32::new(0);

#[derive(Debug)]
enum Counter {
    Process,
    Own(AtomicU32),
}

impl Counter {
    fn next(&self) -> u32 {
        match self {
            Counter::Process => PROCESS_COUNTER.fetch_add(1, Ordering::Relaxed),
            Counter::Own(c) => c.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl UniqueIdGenerator {
    /// A generator for a client whose local address is `ip`, with this process's id and salt. Like
    /// Java's, the salt is fixed for the process and the counter is shared by every generator made here.
    pub fn new(ip: IpAddr) -> Self {
        static SALT: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
        let mut g = Self::with_parts(ip, std::process::id(), *SALT.get_or_init(process_salt));
        g.counter = Counter::Process;
        g
    }

    /// A generator without a known local address: the 4 address bytes are taken from the current time,
    /// as Java's `MessageClientIDSetter.createFakeIP` does.
    pub fn with_fake_ip() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        let b = now.to_be_bytes();
        Self::new(IpAddr::V4(Ipv4Addr::new(b[4], b[5], b[6], b[7])))
    }

    /// A generator with every fixed part given (for tests and reproducible ids).
    pub fn with_parts(ip: IpAddr, pid: u32, salt: i32) -> Self {
        let mut raw = [0u8; 16];
        let ip_len = ip_bytes(&ip, &mut raw);
        let mut prefix = String::with_capacity((ip_len + 6) * 2);
        push_hex(&mut prefix, &raw[..ip_len]);
        push_hex(&mut prefix, &(pid as u16).to_be_bytes());
        push_hex(&mut prefix, &salt.to_be_bytes());
        UniqueIdGenerator {
            prefix,
            utc_offset_ms: 0,
            counter: Counter::Own(AtomicU32::new(0)),
        }
    }

    /// Compute month starts in a fixed time zone `offset_secs` ahead of UTC (e.g. 28800 for UTC+8).
    pub fn with_utc_offset(mut self, offset_secs: i32) -> Self {
        self.utc_offset_ms = i64::from(offset_secs) * 1000;
        self
    }

    /// The fixed hex prefix (ip + pid + salt): 20 characters for IPv4, 44 for IPv6.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A new id for the current time.
    pub fn next_id(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        self.next_id_at(now)
    }

    /// A new id as if the time were `now_ms` (ms since the Unix epoch).
    pub fn next_id_at(&self, now_ms: i64) -> String {
        // Java: `(int)(current - startTime)`, wrapping past ~24.8 days, small negatives clamped to 0.
        let mut diff = ms_since_month_start(now_ms, self.utc_offset_ms) as i32;
        if diff < 0 && diff > -1_000_000 {
            diff = 0;
        }
        let count = self.counter.next() as u16;
        let mut id = String::with_capacity(self.prefix.len() + 12);
        id.push_str(&self.prefix);
        push_hex(&mut id, &diff.to_be_bytes());
        push_hex(&mut id, &count.to_be_bytes());
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_of_one_process_share_salt_and_counter() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let (a, b) = (UniqueIdGenerator::new(ip), UniqueIdGenerator::new(ip));
        assert_eq!(a.prefix(), b.prefix());
        let ids = [a.next_id(), b.next_id(), a.next_id()];
        let counters: Vec<u16> = ids
            .iter()
            .map(|id| u16::from_str_radix(&id[id.len() - 4..], 16).unwrap())
            .collect();
        // One sequence for the process: the same prefix never yields the same id twice, even from two
        // generators in the same millisecond (other tests may draw from it concurrently, so only order).
        assert!(counters[0] < counters[1] && counters[1] < counters[2], "{ids:?}");
    }

    #[test]
    fn offset_msg_id_v4_and_v6() {
        let v4: SocketAddr = "192.168.1.10:10911".parse().unwrap();
        let id = create_offset_msg_id(v4, 1_234_567_890_123);
        assert_eq!(id, "C0A8010A00002A9F0000011F71FB04CB");
        assert_eq!(decode_offset_msg_id(&id).unwrap(), (v4, 1_234_567_890_123));
        assert_eq!(
            decode_offset_msg_id(&id.to_lowercase()).unwrap(),
            (v4, 1_234_567_890_123)
        );

        let v6: SocketAddr = "[2001:db8::1]:10911".parse().unwrap();
        let id = create_offset_msg_id(v6, -1);
        assert_eq!(id.len(), 56);
        assert_eq!(id, "20010DB800000000000000000000000100002A9FFFFFFFFFFFFFFFFF");
        assert_eq!(decode_offset_msg_id(&id).unwrap(), (v6, -1));
    }

    #[test]
    fn offset_msg_id_rejects_garbage() {
        for bad in [
            "",
            "ABC",
            "C0A8010A00002A9F0000011F71FB04C",
            "G0A8010A00002A9F0000011F71FB04CB",
            "C0A8010AFFFFFFFF0000011F71FB04CB",
        ] {
            assert!(
                matches!(decode_offset_msg_id(bad), Err(ProtocolError::InvalidField { .. })),
                "{bad}"
            );
        }
        // non-ASCII of the right byte length must not panic
        assert!(decode_offset_msg_id("é0A8010A00002A9F0000011F71FB04C").is_err());
    }

    #[test]
    fn java_hash_values() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("TagA"), 2_598_919);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        // wraps: "polygenelubricants".hashCode() == Integer.MIN_VALUE
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        // UTF-16 units: U+1F600 is 0xD83D 0xDE00 → 0xD83D * 31 + 0xDE00
        assert_eq!(java_string_hash("\u{1F600}"), 0xD83D * 31 + 0xDE00);
        assert_eq!(java_string_hash("é"), 0xE9);
    }

    #[test]
    fn month_start() {
        // 2024-03-05T10:20:30.456Z → 4 days 10:20:30.456 after 2024-03-01T00:00Z
        let t = 1_709_634_030_456;
        assert_eq!(
            ms_since_month_start(t, 0),
            ((4 * 24 + 10) * 3600 + 20 * 60 + 30) * 1000 + 456
        );
        // exactly at a month start, and one ms before (2024-02-29T23:59:59.999Z, leap year)
        assert_eq!(ms_since_month_start(1_709_251_200_000, 0), 0);
        assert_eq!(ms_since_month_start(1_709_251_199_999, 0), 29 * MS_PER_DAY - 1);
        // UTC+8: 2024-02-29T20:00Z is 2024-03-01T04:00 local
        assert_eq!(
            ms_since_month_start(1_709_236_800_000, 8 * 3_600_000),
            4 * 3_600_000
        );
        // before the epoch: 1969-12-31T23:00Z is 30 days 23 h into December
        assert_eq!(
            ms_since_month_start(-3_600_000, 0),
            30 * MS_PER_DAY + 23 * 3_600_000
        );
    }

    #[test]
    fn unique_id_layout() {
        let ip = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));
        let gen = UniqueIdGenerator::with_parts(ip, 0x0012_3456, -2);
        assert_eq!(gen.prefix(), "0A0102033456FFFFFFFE");
        let t = 1_709_634_030_456; // 382_830_456 ms into March (0x16D18778)
        assert_eq!(gen.next_id_at(t), "0A0102033456FFFFFFFE16D187780000");
        assert_eq!(gen.next_id_at(t), "0A0102033456FFFFFFFE16D187780001");
        // late in a 31-day month the i32 wraps exactly like Java's cast
        let late = 1_711_929_599_999; // 2024-03-31T23:59:59.999Z
        let diff = (31 * MS_PER_DAY - 1) as i32;
        assert!(diff < 0);
        assert_eq!(&gen.next_id_at(late)[20..28], format!("{:08X}", diff));

        let v6 = UniqueIdGenerator::with_parts("2001:db8::7".parse().unwrap(), 1, 1);
        assert_eq!(v6.next_id_at(t).len(), 56);
        assert_eq!(UniqueIdGenerator::with_fake_ip().next_id().len(), 32);
    }

    #[test]
    fn unique_id_parse() {
        let gen = UniqueIdGenerator::with_parts(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)), 0x0012_3456, -2);
        let id = gen.next_id_at(1_709_634_030_456);
        let parts = parse_unique_id(&id).unwrap();
        assert_eq!(
            parts,
            UniqueIdParts {
                ip: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
                pid: 0x3456,
                salt: -2,
                ms_since_month_start: 382_830_456,
                counter: 0,
            }
        );
        assert_eq!(parse_unique_id(&id.to_lowercase()).unwrap(), parts);
        let v6 = UniqueIdGenerator::with_parts("2001:db8::7".parse().unwrap(), 1, 1).next_id_at(0);
        assert_eq!(
            parse_unique_id(&v6).unwrap().ip,
            "2001:db8::7".parse::<IpAddr>().unwrap()
        );
        assert!(parse_unique_id("XYZ").is_err());
        assert!(parse_unique_id("Z0A0102033456FFFFFFFE16D18778000").is_err());
    }

    #[test]
    fn unique_ids_are_unique_across_threads() {
        let gen = std::sync::Arc::new(UniqueIdGenerator::new(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let g = gen.clone();
                std::thread::spawn(move || (0..1000).map(|_| g.next_id_at(0)).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<String> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 4000);
    }
}
