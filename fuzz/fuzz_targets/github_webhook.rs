#![no_main]
// The body is gatehouse_server::fuzzing::github_webhook, which the regression test replays too.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gatehouse_server::fuzzing::github_webhook(data));
