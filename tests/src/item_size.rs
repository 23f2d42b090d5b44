//! DynamoDB's item size and the capacity units it costs, as its documentation defines them: what the
//! adapter's item-layout tests assert and what the contention benchmark reports.

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// DynamoDB's item size (bytes) as its docs define it: attribute names plus values; a number is about one
/// byte per two significant digits plus one; maps and lists 3 bytes plus 1 per element; null/bool 1 byte.
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn number_size(n: &str) -> usize {
    let digits: String = n
        .trim_start_matches('-')
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.max(1).div_ceil(2) + 1
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + value_size(v) + 1)
                .sum::<usize>()
        }
        AttributeValue::L(l) => 3 + l.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        AttributeValue::Ss(s) => s.iter().map(|s| s.len()).sum(),
        AttributeValue::Ns(n) => n.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(b) => b.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

/// Write capacity units for a write of an item of `bytes` (1 WCU per started KB).
pub fn wcu(bytes: usize) -> u64 {
    (bytes.max(1) as u64).div_ceil(1024)
}

/// Read capacity units for a strongly consistent read of an item of `bytes` (1 RCU per started 4 KB).
pub fn rcu(bytes: usize) -> u64 {
    (bytes.max(1) as u64).div_ceil(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamodb_item_sizes() {
        assert_eq!(number_size("10000"), 2);
        // 8 significant digits (trailing zeros do not count): 4 bytes + 1.
        assert_eq!(number_size("1767225600000"), 5);
        assert_eq!(number_size("0"), 2);
        let mut item = HashMap::new();
        item.insert("pk".to_string(), AttributeValue::S("AUCTION#x".into()));
        item.insert("n".to_string(), AttributeValue::N("12".into()));
        assert_eq!(item_size(&item), 2 + 9 + 1 + 2);
        assert_eq!(wcu(1024), 1);
        assert_eq!(wcu(1025), 2);
    }
}
