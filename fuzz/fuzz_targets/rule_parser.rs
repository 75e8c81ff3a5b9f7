//! The rule grammar: any text either parses into a rule or is refused with an error; a
//! parsed rule's processor names are well-formed.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(rule) = picops_processor::parse_rule(text) {
            assert!(!rule.processor_names().is_empty());
        }
    }
});
