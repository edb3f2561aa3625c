//! Throttle rate strings (`Rate::from_str`): parse, format, parse again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::throttle::Rate;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.parse::<Rate>() {
        Ok(rate) => {
            let short = rate.to_string();
            assert_eq!(short.parse::<Rate>(), Ok(rate));
            let (count, letter) = short.split_once('/').expect("N/p");
            assert_eq!(count.parse::<u32>(), Ok(rate.num_requests()));
            assert!(matches!(letter, "s" | "m" | "h" | "d"));
        }
        Err(e) => {
            // The message quotes at most 40 characters of the input, each
            // escaped to at most 10 (`\u{10ffff}`): bounded whatever the input.
            assert!(e.to_string().chars().count() <= 40 * 10 + 200, "{e}");
        }
    }
});
