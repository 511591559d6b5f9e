//! Namespaces: tenant prefixes on topic and group names, as the Java client's `NamespaceUtil` applies them.
//!
//! `wrap("ns", "orders")` is `ns%orders`; retry and dead-letter names keep their prefix in front:
//! `wrap("ns", "%RETRY%g")` is `%RETRY%ns%g`. System names are never wrapped.

const RETRY_PREFIX: &str = "%RETRY%";
const DLQ_PREFIX: &str = "%DLQ%";
const SEPARATOR: char = '%';

fn is_system(name: &str) -> bool {
    name == "TBW102"
        || name.starts_with("rmq_sys_")
        || name == "SCHEDULE_TOPIC_XXXX"
        || name.starts_with("RMQ_SYS_")
}

fn split_prefix(name: &str) -> (&str, &str) {
    for p in [RETRY_PREFIX, DLQ_PREFIX] {
        if let Some(rest) = name.strip_prefix(p) {
            return (p, rest);
        }
    }
    ("", name)
}

/// Put `name` into `namespace` (no-op without a namespace, for system names, or when already wrapped).
pub fn wrap(namespace: Option<&str>, name: &str) -> String {
    let Some(ns) = namespace.filter(|n| !n.is_empty()) else {
        return name.to_owned();
    };
    if name.is_empty() || is_system(name) {
        return name.to_owned();
    }
    let (prefix, rest) = split_prefix(name);
    if rest.strip_prefix(ns).is_some_and(|r| r.starts_with(SEPARATOR)) {
        return name.to_owned();
    }
    format!("{prefix}{ns}{SEPARATOR}{rest}")
}

/// Take `name` out of `namespace` (no-op when it is not in it).
pub fn unwrap(namespace: Option<&str>, name: &str) -> String {
    let Some(ns) = namespace.filter(|n| !n.is_empty()) else {
        return name.to_owned();
    };
    let (prefix, rest) = split_prefix(name);
    match rest.strip_prefix(ns).and_then(|r| r.strip_prefix(SEPARATOR)) {
        Some(inner) => format!("{prefix}{inner}"),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_and_unwrap() {
        assert_eq!(wrap(Some("ns"), "orders"), "ns%orders");
        assert_eq!(wrap(Some("ns"), "ns%orders"), "ns%orders");
        assert_eq!(wrap(Some("ns"), "%RETRY%g"), "%RETRY%ns%g");
        assert_eq!(wrap(Some("ns"), "%DLQ%g"), "%DLQ%ns%g");
        assert_eq!(wrap(Some("ns"), "TBW102"), "TBW102");
        assert_eq!(wrap(None, "orders"), "orders");
        assert_eq!(unwrap(Some("ns"), "ns%orders"), "orders");
        assert_eq!(unwrap(Some("ns"), "%RETRY%ns%g"), "%RETRY%g");
        assert_eq!(unwrap(Some("ns"), "other%orders"), "other%orders");
    }
}
