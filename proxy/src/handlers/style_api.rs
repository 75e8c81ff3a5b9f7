//! The COS style API on a bucket: `PUT /?style` adds a style, `GET /?style` lists them,
//! `DELETE /?style` deletes one.

use crate::auth::Identity;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::metrics::Buffered;
use crate::operation::StyleCall;
use crate::reply::Reply;
use crate::request::{Request, MAX_API_BODY};
use crate::styles;
use crate::xml;

pub async fn handle(
    engine: &Engine,
    mut req: Request<'_>,
    identity: &Identity,
    call: StyleCall,
) -> Result<Reply, ApiError> {
    let body = req
        .read_body(MAX_API_BODY, &identity.body, &mut Buffered::default())
        .await?;
    let bucket = req.bucket()?;
    let upstream = engine.upstream(identity);
    let asked = xml::parse_style_request(&body).map_err(ApiError::InvalidArgument)?;
    let missing = |what: &str| ApiError::InvalidArgument(format!("{what} needs a StyleName"));
    let xml = match call {
        StyleCall::Add => {
            let name = asked.style_name.ok_or_else(|| missing("AddStyle"))?;
            let rule = asked
                .style_body
                .ok_or_else(|| ApiError::InvalidArgument("AddStyle needs a StyleBody".into()))?;
            styles::put(upstream, bucket, &name, rule).await?;
            String::new()
        }
        StyleCall::Delete => {
            let name = asked.style_name.ok_or_else(|| missing("DeleteStyle"))?;
            styles::delete(upstream, bucket, &name).await?;
            String::new()
        }
        StyleCall::List => {
            let mut all = styles::list(&engine.config.styles, upstream, bucket).await?;
            if let Some(only) = asked.style_name {
                all.retain(|name, _| *name == only);
            }
            xml::style_list(&all)
        }
    };
    Ok(Reply::xml(200, xml))
}
