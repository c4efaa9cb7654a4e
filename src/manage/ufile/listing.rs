//! The two bucket listings (§6.3, §6.4), signed with an empty key (resource `/<bucket>/`), page by
//! page or as a `Stream` that fetches the next page when the previous one is used up.

use futures_util::Stream;
use serde::Deserialize;

use super::{UfileManager, auth_hint};
use crate::encoding::percent_encode;
use crate::engine::Transport;
use crate::manage::paging::paged;
use crate::service::ufile::refusal;
use crate::service::{HttpRequest, HttpResponse, Method, ServiceKind, json_reply};
use crate::{Error, Result};

/// One object of the prefix list (`?list`) and of `GetFileList`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct FileEntry {
    #[serde(rename = "FileName", default)]
    pub key: String,
    #[serde(rename = "Size", default, deserialize_with = "crate::lenient::opt_u64")]
    pub size: Option<u64>,
    /// The UFile ETag (`Hash`).
    #[serde(rename = "Hash", default, deserialize_with = "crate::lenient::opt_string")]
    pub etag: Option<String>,
    #[serde(rename = "MimeType", default, deserialize_with = "crate::lenient::opt_string")]
    pub mime: Option<String>,
    /// Unix seconds.
    #[serde(rename = "CreateTime", default, deserialize_with = "crate::lenient::opt_u64")]
    pub create_time: Option<u64>,
    /// Unix seconds.
    #[serde(rename = "ModifyTime", default, deserialize_with = "crate::lenient::opt_u64")]
    pub modify_time: Option<u64>,
    #[serde(rename = "StorageClass", default, deserialize_with = "crate::lenient::opt_string")]
    pub storage_class: Option<String>,
}

/// One page of the prefix list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct FilePage {
    #[serde(rename = "DataSet", default)]
    pub entries: Vec<FileEntry>,
    /// Where the next page starts; "" when this was the last one.
    #[serde(rename = "NextMarker", default, deserialize_with = "crate::lenient::opt_string")]
    pub next_marker: Option<String>,
}

/// One object of ListObjects (`Contents`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ObjectEntry {
    #[serde(rename = "Key", default)]
    pub key: String,
    /// Sent as a string (§6.4).
    #[serde(rename = "Size", default, deserialize_with = "crate::lenient::opt_u64")]
    pub size: Option<u64>,
    #[serde(rename = "ETag", alias = "Etag", default, deserialize_with = "crate::lenient::opt_string")]
    pub etag: Option<String>,
    #[serde(rename = "MimeType", default, deserialize_with = "crate::lenient::opt_string")]
    pub mime: Option<String>,
    #[serde(rename = "StorageClass", default, deserialize_with = "crate::lenient::opt_string")]
    pub storage_class: Option<String>,
    /// Unix seconds.
    #[serde(rename = "LastModified", default, deserialize_with = "crate::lenient::opt_u64")]
    pub last_modified: Option<u64>,
    /// Unix seconds.
    #[serde(rename = "CreateTime", default, deserialize_with = "crate::lenient::opt_u64")]
    pub create_time: Option<u64>,
    #[serde(rename = "UserMeta", default, deserialize_with = "user_meta")]
    pub user_meta: std::collections::BTreeMap<String, String>,
}

fn user_meta<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<std::collections::BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    struct Text(#[serde(deserialize_with = "crate::lenient::opt_string")] Option<String>);
    let map: Option<std::collections::BTreeMap<String, Text>> = Option::deserialize(d)?;
    Ok(map.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0.unwrap_or_default())).collect())
}

#[derive(Deserialize)]
struct CommonPrefix {
    #[serde(rename = "Prefix", default)]
    prefix: String,
}

/// One page of ListObjects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectsPage {
    pub objects: Vec<ObjectEntry>,
    /// With a delimiter: the "directories" (keys rolled up to the next delimiter).
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_marker: String,
}

impl ObjectsPage {
    /// The marker of the page after this one, `None` on the last. A truncated page without a
    /// marker is an error: a caller could only start the listing over.
    pub fn next(&self) -> Result<Option<&str>> {
        match (self.is_truncated, self.next_marker.as_str()) {
            (false, _) => Ok(None),
            (true, "") => {
                Err(Error::new(crate::ErrorKind::Server, "UFile said ListObjects is truncated but gave no NextMarker"))
            }
            (true, next) => Ok(Some(next)),
        }
    }
}

/// An item of a ListObjects stream: an object, or a rolled-up common prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListItem {
    Object(ObjectEntry),
    CommonPrefix(String),
}

#[derive(Deserialize)]
struct ObjectsReply {
    #[serde(rename = "Contents", default)]
    contents: Option<Vec<ObjectEntry>>,
    #[serde(rename = "CommonPrefixes", default)]
    common_prefixes: Option<Vec<CommonPrefix>>,
    #[serde(rename = "IsTruncated", default)]
    is_truncated: Option<bool>,
    #[serde(rename = "NextMarker", default, deserialize_with = "crate::lenient::opt_string")]
    next_marker: Option<String>,
}

impl<T> UfileManager<T> {
    /// `GET /?list&prefix=&marker=&limit=` (limit 1–1000; the service's default is 20).
    pub fn prefix_list_request(&self, prefix: &str, marker: &str, limit: usize) -> Result<HttpRequest> {
        let url = format!(
            "{}/?list&prefix={}&marker={}&limit={}",
            self.base_url,
            percent_encode(prefix, false),
            percent_encode(marker, false),
            limit.clamp(1, 1000)
        );
        self.signed(Method::Get, "", url, "")
    }

    /// `GET /?listobjects&prefix=&marker=&max-keys=&delimiter=` (max-keys 1–1000; delimiter "" or
    /// "/").
    pub fn list_objects_request(
        &self,
        prefix: &str,
        marker: &str,
        delimiter: &str,
        max_keys: usize,
    ) -> Result<HttpRequest> {
        let url = format!(
            "{}/?listobjects&prefix={}&marker={}&max-keys={}&delimiter={}",
            self.base_url,
            percent_encode(prefix, false),
            percent_encode(marker, false),
            max_keys.clamp(1, 1000),
            percent_encode(delimiter, false)
        );
        self.signed(Method::Get, "", url, "")
    }
}

/// The prefix list's reply.
pub fn parse_prefix_list(response: &HttpResponse) -> Result<FilePage> {
    if !response.is_success() {
        return Err(refusal(response, "the prefix list", auth_hint(response)));
    }
    json_reply(ServiceKind::Ufile, "the prefix list", response)
}

/// ListObjects' reply.
pub fn parse_list_objects(response: &HttpResponse) -> Result<ObjectsPage> {
    if !response.is_success() {
        return Err(refusal(response, "ListObjects", auth_hint(response)));
    }
    let reply: ObjectsReply = json_reply(ServiceKind::Ufile, "ListObjects", response)?;
    Ok(ObjectsPage {
        objects: reply.contents.unwrap_or_default(),
        common_prefixes: reply.common_prefixes.unwrap_or_default().into_iter().map(|p| p.prefix).collect(),
        is_truncated: reply.is_truncated.unwrap_or(false),
        next_marker: reply.next_marker.unwrap_or_default(),
    })
}

impl<T: Transport> UfileManager<T> {
    /// One page of the prefix list: keys starting with `prefix` after `marker`.
    pub async fn prefix_list_page(&self, prefix: &str, marker: &str, limit: usize) -> Result<FilePage> {
        parse_prefix_list(&self.send(self.prefix_list_request(prefix, marker, limit)?).await?)
    }

    /// Every object whose key starts with `prefix`, in key order, `page_size` per request, each
    /// page fetched when the previous one is used up.
    pub fn prefix_list<'a>(
        &'a self,
        prefix: &str,
        page_size: usize,
    ) -> impl Stream<Item = Result<FileEntry>> + use<'a, T> {
        let prefix = prefix.to_owned();
        paged("UFile", String::new(), move |marker: String| {
            let prefix = prefix.clone();
            async move {
                let page = self.prefix_list_page(&prefix, &marker, page_size).await?;
                let next = page.next_marker.filter(|next| !next.is_empty());
                Ok((page.entries, next))
            }
        })
    }

    /// One page of ListObjects.
    pub async fn list_objects_page(
        &self,
        prefix: &str,
        marker: &str,
        delimiter: &str,
        max_keys: usize,
    ) -> Result<ObjectsPage> {
        parse_list_objects(&self.send(self.list_objects_request(prefix, marker, delimiter, max_keys)?).await?)
    }

    /// Every object (and, with `delimiter` "/", every common prefix) under `prefix`, `page_size`
    /// per request, each page fetched when the previous one is used up. Within a page, common
    /// prefixes come after the objects.
    pub fn list_objects<'a>(
        &'a self,
        prefix: &str,
        delimiter: &str,
        page_size: usize,
    ) -> impl Stream<Item = Result<ListItem>> + use<'a, T> {
        let (prefix, delimiter) = (prefix.to_owned(), delimiter.to_owned());
        paged("UFile", String::new(), move |marker: String| {
            let (prefix, delimiter) = (prefix.clone(), delimiter.clone());
            async move {
                let page = self.list_objects_page(&prefix, &marker, &delimiter, page_size).await?;
                let next = page.next()?.map(str::to_owned);
                let items = page
                    .objects
                    .into_iter()
                    .map(ListItem::Object)
                    .chain(page.common_prefixes.into_iter().map(ListItem::CommonPrefix))
                    .collect();
                Ok((items, next))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Mock, block_on, manager};
    use super::*;
    use futures_util::StreamExt;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn request_shapes() {
        let mock = Mock::default();
        let m = manager(&mock);
        let r = m.prefix_list_request("a b+", "a/k", 5000).unwrap();
        assert_eq!(r.url, "http://b.example/?list&prefix=a%20b%2B&marker=a%2Fk&limit=1000");
        let expected = crate::sign::ufile::authorization(
            &crate::sign::Credentials::new("pub", "priv"),
            &crate::sign::ufile::SignRequest { method: "GET".into(), bucket: "b".into(), ..Default::default() },
        )
        .unwrap();
        assert_eq!(r.header_value("Authorization"), Some(expected.as_str()), "signed over /b/");
        let r = m.list_objects_request("p/", "", "/", 0).unwrap();
        assert_eq!(r.url, "http://b.example/?listobjects&prefix=p%2F&marker=&max-keys=1&delimiter=%2F");
    }

    #[test]
    fn prefix_list_pages_until_the_marker_is_empty() {
        let mock = Mock::default();
        mock.reply(
            200,
            &[],
            r#"{"BucketName":"b","NextMarker":"k2","DataSet":[{"FileName":"k1","Size":1,"Hash":"h1","MimeType":"text/plain","CreateTime":5,"ModifyTime":6},{"FileName":"k2","Size":"2"}]}"#,
        );
        mock.reply(200, &[], r#"{"NextMarker":"","DataSet":[{"FileName":"k3"}]}"#);
        let m = manager(&mock);
        let items: Vec<FileEntry> = block_on(m.prefix_list("k", 2).map(|r| r.unwrap()).collect());
        assert_eq!(items.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["k1", "k2", "k3"]);
        assert_eq!(items[0].etag.as_deref(), Some("h1"));
        assert_eq!((items[0].size, items[1].size, items[0].modify_time), (Some(1), Some(2), Some(6)));
        let urls = mock.urls();
        assert!(urls[0].ends_with("?list&prefix=k&marker=&limit=2") && urls[1].ends_with("&marker=k2&limit=2"));

        mock.reply(200, &[], r#"{"NextMarker":"x","DataSet":[]}"#);
        mock.reply(200, &[], r#"{"NextMarker":"x","DataSet":[]}"#);
        let all: Vec<Result<FileEntry>> = block_on(m.prefix_list("", 2).collect());
        assert!(all.len() == 1 && all[0].is_err(), "a marker that does not advance ends the stream");
    }

    #[test]
    fn list_objects_items_and_errors() {
        let mock = Mock::default();
        mock.reply(
            200,
            &[],
            r#"{"Name":"b","MaxKeys":"2","IsTruncated":true,"NextMarker":"d/","Contents":[{"Key":"a","Size":"6","ETag":"e","UserMeta":{"x":"1"},"LastModified":7}],"CommonPrefixes":[{"Prefix":"d/"}]}"#,
        );
        mock.reply(200, &[], r#"{"IsTruncated":false,"NextMarker":"","Contents":[{"Key":"z"}],"CommonPrefixes":null}"#);
        let m = manager(&mock);
        let items: Vec<ListItem> = block_on(m.list_objects("", "/", 2).map(|r| r.unwrap()).collect());
        assert_eq!(items.len(), 3);
        match &items[0] {
            ListItem::Object(o) => {
                assert_eq!((o.key.as_str(), o.size, o.last_modified), ("a", Some(6), Some(7)));
                assert_eq!(o.user_meta.get("x").map(String::as_str), Some("1"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(items[1], ListItem::CommonPrefix("d/".into()));
        assert!(mock.urls()[1].contains("&marker=d%2F&"));

        mock.reply(403, &[], r#"{ "RetCode": -148658, "ErrMsg": "invalid signature" }"#);
        let err = block_on(m.list_objects_page("", "", "", 10)).unwrap_err();
        assert_eq!(err.code(), Some("-148658"));
        mock.reply(200, &[], "not json");
        assert!(block_on(m.list_objects_page("", "", "", 10)).is_err());
    }
}
