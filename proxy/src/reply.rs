//! What a handler answers: a status, a body and the headers picops sets itself. The gateway
//! writes it to the client; handlers never see the connection.

use bytes::Bytes;

pub struct Reply {
    pub status: u16,
    pub body: Bytes,
    pub content_type: String,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn xml(status: u16, body: String) -> Reply {
        Reply {
            status,
            body: Bytes::from(body),
            content_type: "application/xml".into(),
            headers: Vec::new(),
        }
    }

    pub fn json(value: serde_json::Value) -> Reply {
        Reply {
            status: 200,
            body: Bytes::from(value.to_string()),
            content_type: "application/json".into(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }
}
