// Shared by the examples: where the name server is (NAMESRV_ADDR, default 127.0.0.1:9876) and the topic
// (first argument, default "example_topic"). They need a running cluster: see docs/README.md
// (`rmq quickstart` checks a machine end to end but stops its cluster when it finishes).

pub(crate) fn namesrv() -> String {
    std::env::var("NAMESRV_ADDR").unwrap_or_else(|_| "127.0.0.1:9876".to_owned())
}

pub(crate) fn topic() -> String {
    std::env::args()
        .nth(1)
        .unwrap_or_else(|| "example_topic".to_owned())
}
