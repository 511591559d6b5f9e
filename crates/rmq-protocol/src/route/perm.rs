//! Topic / broker permission bits (`PermName`).

/// Priority bit (4.x "priority" brokers; unused by the client).
pub const PERM_PRIORITY: i32 = 8;
/// Read bit: consumers may pull from the topic / broker.
pub const PERM_READ: i32 = 4;
/// Write bit: producers may send to the topic / broker.
pub const PERM_WRITE: i32 = 2;
/// Inheritable (a template topic such as `TBW102` may be inherited by auto-create).
pub const PERM_INHERIT: i32 = 1;

/// Whether `perm` has the read bit.
pub fn is_readable(perm: i32) -> bool {
    perm & PERM_READ == PERM_READ
}

/// Whether `perm` has the write bit.
pub fn is_writeable(perm: i32) -> bool {
    perm & PERM_WRITE == PERM_WRITE
}

/// Whether `perm` has the inherit bit.
pub fn is_inherited(perm: i32) -> bool {
    perm & PERM_INHERIT == PERM_INHERIT
}

/// Whether `perm` has the priority bit.
pub fn is_priority(perm: i32) -> bool {
    perm & PERM_PRIORITY == PERM_PRIORITY
}

/// Java's `PermName.perm2String`: `R`, `W`, `X` (inherit) or `-` for each bit, e.g. 6 → `"RW-"`.
pub fn perm_to_string(perm: i32) -> String {
    let mut s = String::with_capacity(3);
    s.push(if is_readable(perm) { 'R' } else { '-' });
    s.push(if is_writeable(perm) { 'W' } else { '-' });
    s.push(if is_inherited(perm) { 'X' } else { '-' });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits() {
        assert!(is_readable(6) && is_writeable(6) && !is_inherited(6) && !is_priority(6));
        assert!(!is_readable(2) && is_writeable(2));
        assert!(is_readable(4) && !is_writeable(4));
        assert!(is_inherited(7) && is_priority(8));
        assert_eq!(perm_to_string(6), "RW-");
        assert_eq!(perm_to_string(7), "RWX");
        assert_eq!(perm_to_string(0), "---");
    }
}
