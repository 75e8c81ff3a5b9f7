//! The first level of processing on GET: recent results in memory, bounded by the bytes
//! they hold (least recently used goes first), keyed by object and rule. Entries carry the
//! source's ETag so a changed original is never answered from a stale result.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sha2::{Digest, Sha256};

pub struct Cached {
    /// The ETag of the object the result was made from.
    pub source_etag: String,
    pub body: Bytes,
    pub content_type: String,
    /// The result's own ETag (see [`result_etag`]).
    pub etag: String,
}

/// Bucket, key and rule text.
pub type CacheKey = (String, String, String);

pub struct ResultCache {
    inner: Mutex<(lru::LruCache<CacheKey, Arc<Cached>>, usize)>,
    capacity: usize,
}

impl ResultCache {
    pub fn new(capacity_bytes: usize) -> ResultCache {
        ResultCache {
            inner: Mutex::new((lru::LruCache::unbounded(), 0)),
            capacity: capacity_bytes,
        }
    }

    pub fn get(&self, key: &CacheKey) -> Option<Arc<Cached>> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.0.get(key).cloned()
    }

    pub fn put(&self, key: CacheKey, value: Arc<Cached>) {
        let len = value.body.len();
        if len > self.capacity / 4 {
            return; // one result may not push out most of the others
        }
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (entries, held) = &mut *guard;
        if let Some(old) = entries.put(key, value) {
            *held -= old.body.len();
        }
        *held += len;
        while *held > self.capacity {
            match entries.pop_lru() {
                Some((_, v)) => *held -= v.body.len(),
                None => break,
            }
        }
    }
}

/// A result's ETag: the same source and rule always give the same one, so clients and
/// caches can revalidate a result without picops rendering it again.
pub fn result_etag(source_etag: &str, rule: &str) -> String {
    let digest = Sha256::digest(format!("{source_etag}\n{rule}").as_bytes());
    format!("\"{}\"", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(len: usize) -> Arc<Cached> {
        Arc::new(Cached {
            source_etag: "\"s\"".into(),
            body: Bytes::from(vec![0; len]),
            content_type: "image/jpeg".into(),
            etag: "\"r\"".into(),
        })
    }

    fn key(k: &str) -> CacheKey {
        ("b".into(), k.into(), "imageMogr2/thumbnail/10x".into())
    }

    #[test]
    fn evicts_the_least_recently_used_by_bytes() {
        let cache = ResultCache::new(100);
        cache.put(key("a"), entry(20));
        cache.put(key("b"), entry(20));
        assert!(cache.get(&key("a")).is_some());
        for k in ["c", "d", "e", "f"] {
            cache.put(key(k), entry(20));
        }
        assert!(cache.get(&key("a")).is_some(), "used recently, kept");
        assert!(
            cache.get(&key("b")).is_none(),
            "least recently used, evicted"
        );
        // One result may not take more than a quarter of the cache.
        cache.put(key("big"), entry(26));
        assert!(cache.get(&key("big")).is_none());
    }

    #[test]
    fn result_etags_depend_on_source_and_rule() {
        assert_eq!(result_etag("\"1\"", "r"), result_etag("\"1\"", "r"));
        assert_ne!(result_etag("\"1\"", "r"), result_etag("\"2\"", "r"));
        assert_ne!(result_etag("\"1\"", "r"), result_etag("\"1\"", "s"));
    }
}
