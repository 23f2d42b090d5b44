//! One target for every decoder a client reaches: bid bodies, create-auction bodies, client WebSocket frames,
//! ids, and server frames (which must round-trip). The first input byte picks the decoder.
#![no_main]

use auction::domain::{AuctionId, MAX_MONEY};
use auction::frames::{ClientMessage, Frame};
use auction::handlers::http_api::parse_draft;
use auction::http::{json_object, money_field};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// 2026-01-01T00:00:00Z, the "now" of create-auction decoding.
const NOW: i64 = 1_767_225_600_000;

fn request(body: &[u8], text: bool) -> lambda_http::Request {
    let body = match (text, std::str::from_utf8(body)) {
        (true, Ok(s)) => lambda_http::Body::Text(s.to_owned()),
        _ => lambda_http::Body::Binary(body.to_vec()),
    };
    http::Request::builder()
        .method("POST")
        .uri("/auctions/x/bids")
        .body(body)
        .expect("request")
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 5 {
        // POST /auctions/{id}/bids: body → amount.
        0 => {
            if let Ok(obj) = json_object(&request(rest, selector & 0x80 != 0)) {
                if let Ok(Some(amount)) = money_field(&obj, "amount") {
                    assert!((1..=MAX_MONEY).contains(&amount.cents()));
                    assert_eq!(obj["amount"].as_i64(), Some(amount.cents()));
                }
            }
        }
        // POST /auctions: body → draft.
        1 => {
            if let Ok(obj) = json_object(&request(rest, selector & 0x80 != 0)) {
                if let Ok((draft, details)) = parse_draft(&obj, NOW) {
                    assert!(draft.starting_price.cents() >= 1);
                    assert!(!draft.title.trim().is_empty());
                    assert!(draft.ends_at - NOW >= 10_000);
                    assert!(details.description.len() <= auction::domain::MAX_DESCRIPTION_LEN);
                }
            }
        }
        // Client WebSocket frames: Some only for {"action":"sync"}.
        2 => {
            if let Ok(s) = std::str::from_utf8(rest) {
                if ClientMessage::parse(s).is_some() {
                    assert_eq!(
                        serde_json::from_str::<Value>(s).ok(),
                        Some(serde_json::json!({"action": "sync"}))
                    );
                }
            }
        }
        // Ids: the documented alphabet only.
        3 => {
            if let Ok(s) = std::str::from_utf8(rest) {
                let ok = (1..=128).contains(&s.len())
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.=+/:".contains(&b));
                assert_eq!(AuctionId::parse(s).is_ok(), ok);
            }
        }
        // Server frames: whatever decodes re-encodes to the same frame.
        _ => {
            if let Ok(frame) = serde_json::from_slice::<Frame>(rest) {
                let bytes = frame.to_bytes().expect("a decoded frame encodes");
                let again: Frame = serde_json::from_slice(&bytes).expect("round trip");
                assert_eq!(again, frame);
            }
        }
    }
});
