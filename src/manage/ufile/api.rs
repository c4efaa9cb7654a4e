//! Bucket management through the UCloud API (§7): `GET <api>/?Action=<A>&...&PublicKey=<pub>&
//! Signature=<hex>`, the signature a SHA-1 over the sorted parameters and the private key.
//!
//! Every reply is `{"RetCode": n, "Action": "<A>Response", ...}`; a non-zero `RetCode` is an
//! error whatever the HTTP status (UCloud answers business errors with HTTP 200), carried as the
//! error's code with the reply's `Message`.

use futures_util::Stream;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::UfileManager;
use super::listing::FileEntry;
use crate::engine::Transport;
use crate::manage::paging::paged;
use crate::service::{HttpRequest, HttpResponse, Method, ServiceKind, unexpected_reply};
use crate::sign::ufile::signed_api_query;
use crate::{Error, ErrorKind, Result};

/// Who may read a bucket's objects without a signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketType {
    Public,
    Private,
}

impl BucketType {
    pub fn as_str(self) -> &'static str {
        match self {
            BucketType::Public => "public",
            BucketType::Private => "private",
        }
    }
}

/// The reply of CreateBucket, DeleteBucket and UpdateBucket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct BucketRef {
    #[serde(rename = "Action", default)]
    pub action: String,
    #[serde(rename = "BucketName", default)]
    pub bucket_name: String,
    /// `ufile-xxxxxxxx`.
    #[serde(rename = "BucketId", default)]
    pub bucket_id: String,
}

/// A bucket's domains (DescribeBucket).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct BucketDomain {
    #[serde(rename = "Src", default)]
    pub src: Vec<String>,
    #[serde(rename = "Cdn", default)]
    pub cdn: Vec<String>,
    #[serde(rename = "CustomSrc", default)]
    pub custom_src: Vec<String>,
    #[serde(rename = "CustomCdn", default)]
    pub custom_cdn: Vec<String>,
}

/// One bucket as DescribeBucket describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct BucketInfo {
    #[serde(rename = "BucketName", default)]
    pub bucket_name: String,
    #[serde(rename = "BucketId", default)]
    pub bucket_id: String,
    /// "public" or "private".
    #[serde(rename = "Type", default)]
    pub bucket_type: String,
    #[serde(rename = "Region", default)]
    pub region: String,
    #[serde(rename = "StorageClass", default, deserialize_with = "crate::lenient::opt_string")]
    pub storage_class: Option<String>,
    /// `general`, `vod` or `udb`.
    #[serde(rename = "Biz", default, deserialize_with = "crate::lenient::opt_string")]
    pub biz: Option<String>,
    #[serde(rename = "Tag", default, deserialize_with = "crate::lenient::opt_string")]
    pub tag: Option<String>,
    #[serde(rename = "Domain", default)]
    pub domain: Option<BucketDomain>,
    /// Unix seconds.
    #[serde(rename = "CreateTime", default, deserialize_with = "crate::lenient::opt_u64")]
    pub create_time: Option<u64>,
    /// Unix seconds.
    #[serde(rename = "ModifyTime", default, deserialize_with = "crate::lenient::opt_u64")]
    pub modify_time: Option<u64>,
    #[serde(rename = "HasUserDomain", default, deserialize_with = "crate::lenient::opt_i64")]
    pub has_user_domain: Option<i64>,
}

impl BucketInfo {
    pub fn is_private(&self) -> bool {
        self.bucket_type.eq_ignore_ascii_case("private")
    }
}

/// DescribeBucket's reply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct BucketList {
    #[serde(rename = "Action", default)]
    pub action: String,
    #[serde(rename = "DataSet", default)]
    pub data_set: Vec<BucketInfo>,
}

/// GetFileList's reply (deprecated by UCloud in favour of the prefix list, still answered).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct FileList {
    #[serde(rename = "Action", default)]
    pub action: String,
    #[serde(rename = "BucketName", default)]
    pub bucket_name: String,
    #[serde(rename = "BucketId", default)]
    pub bucket_id: String,
    #[serde(rename = "DataSet", default)]
    pub data_set: Vec<FileEntry>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "RetCode", alias = "Retcode", default, deserialize_with = "crate::lenient::opt_i64")]
    ret_code: Option<i64>,
    #[serde(rename = "Message", default, deserialize_with = "crate::lenient::opt_string")]
    message: Option<String>,
}

impl<T> UfileManager<T> {
    /// `GET <api>/?Action=<action>&<params>&PublicKey=<pub>&Signature=<hex>` (§7.1). `params` are
    /// sent and signed as given (a `PublicKey` or `Signature` among them is replaced).
    pub fn api_request(&self, action: &str, params: &[(&str, &str)]) -> HttpRequest {
        let mut all = vec![("Action".to_owned(), action.to_owned())];
        all.extend(params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let query = signed_api_query(&self.credentials, &all);
        let mut request = HttpRequest::new(Method::Get, format!("{}/?{query}", self.api_url));
        // Every action is a GET, the ones that create, change or delete a bucket too.
        request.changes_state = !(action.starts_with("Describe") || action.starts_with("Get"));
        request
    }
}

/// A UCloud API reply for `action`: `R` when `RetCode` is 0, else an error whose code is the
/// `RetCode` (kind: [`ErrorKind::Auth`] for the gateway's 170–174, invalid input for unknown
/// actions and the 15000s, server otherwise).
pub fn parse_api_reply<R: DeserializeOwned>(action: &str, response: &HttpResponse) -> Result<R> {
    let what = format!("the {action} action");
    let text = std::str::from_utf8(&response.body).ok();
    let envelope: Option<Envelope> = text.and_then(|t| crate::json::from_str(t, "UCloud API reply").ok());
    let Some(Envelope { ret_code: Some(ret_code), message }) = envelope else {
        if response.is_success() {
            return Err(unexpected_reply(ServiceKind::Ufile, &what, response));
        }
        return Err(Error::new(
            crate::service::kind_for_status(response.status),
            format!("the UCloud API refused {what}: HTTP {}", response.status),
        )
        .with_status(response.status));
    };
    if ret_code != 0 {
        let kind = match ret_code {
            170..=174 => ErrorKind::Auth,
            160 | 161 | 15000..=15999 => ErrorKind::InvalidInput,
            _ => ErrorKind::Server,
        };
        let message = message.filter(|m| !m.is_empty()).unwrap_or_else(|| "no message".to_owned());
        let hint = match ret_code {
            171 | 172 => " (check the PublicKey and PrivateKey)",
            15010 | 15039 => " (no such bucket)",
            _ => "",
        };
        return Err(Error::new(kind, format!("the UCloud API refused {what}: RetCode {ret_code}: {message}{hint}"))
            .with_status(response.status)
            .with_code(ret_code.to_string()));
    }
    crate::json::from_str(text.unwrap_or(""), &what).map_err(|_| unexpected_reply(ServiceKind::Ufile, &what, response))
}

impl<T: Transport> UfileManager<T> {
    /// Any UCloud API action, typed by the caller.
    pub async fn call_api<R: DeserializeOwned>(&self, action: &str, params: &[(&str, &str)]) -> Result<R> {
        parse_api_reply(action, &self.send(self.api_request(action, params)).await?)
    }

    /// CreateBucket: `name` (3–63 of `a-z0-9-`), its type, and `region` (e.g. `cn-bj`; "" leaves
    /// the API's default).
    pub async fn create_bucket(&self, name: &str, bucket_type: BucketType, region: &str) -> Result<BucketRef> {
        let mut params = vec![("BucketName", name), ("Type", bucket_type.as_str())];
        if !region.is_empty() {
            params.push(("Region", region));
        }
        self.call_api("CreateBucket", &params).await
    }

    /// DeleteBucket (UCloud refuses a bucket that still has objects).
    pub async fn delete_bucket(&self, name: &str) -> Result<BucketRef> {
        self.call_api("DeleteBucket", &[("BucketName", name)]).await
    }

    /// DescribeBucket of one bucket; `None` when there is no such bucket.
    pub async fn describe_bucket(&self, name: &str) -> Result<Option<BucketInfo>> {
        let list: BucketList = self.call_api("DescribeBucket", &[("BucketName", name)]).await?;
        Ok(list.data_set.into_iter().find(|b| b.bucket_name == name))
    }

    /// DescribeBucket of `limit` buckets from `offset`.
    pub async fn describe_buckets(&self, offset: u64, limit: u64) -> Result<BucketList> {
        let (offset, limit) = (offset.to_string(), limit.max(1).to_string());
        self.call_api("DescribeBucket", &[("Offset", &offset), ("Limit", &limit)]).await
    }

    /// Every bucket, `page_size` per DescribeBucket call, each page fetched when the previous one
    /// is used up.
    pub fn buckets(&self, page_size: u64) -> impl Stream<Item = Result<BucketInfo>> + use<'_, T> {
        let page_size = page_size.max(1);
        paged("UCloud", 0u64, move |offset| async move {
            let page = self.describe_buckets(offset, page_size).await?.data_set;
            let next = (page.len() as u64 == page_size).then_some(offset + page_size);
            Ok((page, next))
        })
    }

    /// UpdateBucket: make `name` public or private.
    pub async fn update_bucket(&self, name: &str, bucket_type: BucketType) -> Result<BucketRef> {
        self.call_api("UpdateBucket", &[("BucketName", name), ("Type", bucket_type.as_str())]).await
    }

    /// GetFileList: `limit` objects of bucket `name` from `offset`.
    pub async fn get_file_list(&self, name: &str, offset: u64, limit: u64) -> Result<FileList> {
        let (offset, limit) = (offset.to_string(), limit.max(1).to_string());
        self.call_api("GetFileList", &[("BucketName", name), ("Offset", &offset), ("Limit", &limit)]).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Mock, block_on, manager};
    use super::*;
    use crate::sign::Credentials;
    use crate::sign::ufile::api_signature;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn requests_carry_the_sorted_params_signature() {
        let mock = Mock::default();
        let m = manager(&mock);
        let r = m.api_request("CreateBucket", &[("BucketName", "my-b"), ("Type", "public"), ("Region", "cn-bj")]);
        assert_eq!(r.method, Method::Get);
        // A GET, but not a read: a retry must not send it twice.
        assert!(r.changes_state);
        for (action, changes) in
            [("DeleteBucket", true), ("UpdateBucket", true), ("DescribeBucket", false), ("GetFileList", false)]
        {
            assert_eq!(m.api_request(action, &[]).changes_state, changes, "{action}");
        }
        let expected = api_signature(
            &[
                ("Action".into(), "CreateBucket".into()),
                ("BucketName".into(), "my-b".into()),
                ("Type".into(), "public".into()),
                ("Region".into(), "cn-bj".into()),
                ("PublicKey".into(), "pub".into()),
            ],
            "priv",
        );
        assert_eq!(
            r.url,
            format!(
                "http://api.example/?Action=CreateBucket&BucketName=my-b&Type=public&Region=cn-bj&PublicKey=pub&Signature={expected}"
            )
        );
        // The vector of §7.1, through the same path.
        let spec = UfileManager::new(
            &mock,
            Credentials::new(
                "ucloudsomeone@example.com1296235120854146120",
                "46f09bb9fab4f12dfc160dae12273d5332b5debe",
            ),
            "http://x",
            "x",
        );
        let r = spec.api_request("DescribeUHostInstance", &[("Region", "cn-bj2"), ("Limit", "10")]);
        assert!(r.url.ends_with("&Signature=cba5cf5ec4d4233d206b1b54951e3787350a642f"), "{}", r.url);
        assert!(r.url.starts_with("https://api.ucloud.cn/?Action=DescribeUHostInstance&"));
    }

    #[test]
    fn replies_and_retcodes() {
        let mock = Mock::default();
        let m = manager(&mock);
        mock.reply(200, &[], r#"{"RetCode":0,"Action":"CreateBucketResponse","BucketName":"b1","BucketId":"ufile-1"}"#);
        let r = block_on(m.create_bucket("b1", BucketType::Public, "")).unwrap();
        assert_eq!(
            (r.action.as_str(), r.bucket_name.as_str(), r.bucket_id.as_str()),
            ("CreateBucketResponse", "b1", "ufile-1")
        );
        assert!(!mock.urls()[0].contains("Region="));

        mock.reply(200, &[], r#"{"RetCode":171,"Action":"CreateBucketResponse","Message":"Signature VerifyAC Error"}"#);
        let err = block_on(m.create_bucket("b1", BucketType::Private, "cn-bj")).unwrap_err();
        assert_eq!((err.kind(), err.code(), err.status()), (ErrorKind::Auth, Some("171"), Some(200)));
        assert!(err.message().contains("Signature VerifyAC Error"));

        mock.reply(
            200,
            &[],
            r#"{"RetCode":0,"Action":"DescribeBucketResponse","DataSet":[{"BucketName":"b1","BucketId":"ufile-1","Type":"private","Region":"cn-bj","Domain":{"Src":["b1.cn-bj.ufileos.com"],"Cdn":[]},"CreateTime":5,"HasUserDomain":0}]}"#,
        );
        let info = block_on(m.describe_bucket("b1")).unwrap().unwrap();
        assert!(info.is_private());
        assert_eq!(info.domain.unwrap().src, ["b1.cn-bj.ufileos.com"]);
        mock.reply(200, &[], r#"{"RetCode":0,"Action":"DescribeBucketResponse","DataSet":[]}"#);
        assert_eq!(block_on(m.describe_bucket("b1")).unwrap(), None);

        mock.reply(200, &[], r#"{"RetCode":15010,"Message":"bucket not exist"}"#);
        let err = block_on(m.delete_bucket("nope")).unwrap_err();
        assert_eq!((err.kind(), err.code()), (ErrorKind::InvalidInput, Some("15010")));

        mock.reply(
            200,
            &[],
            r#"{"RetCode":0,"BucketName":"b1","DataSet":[{"BucketName":"b1","FileName":"k","Hash":"h","Size":3}]}"#,
        );
        let list = block_on(m.get_file_list("b1", 0, 10)).unwrap();
        assert_eq!((list.data_set[0].key.as_str(), list.data_set[0].size), ("k", Some(3)));
        assert!(mock.urls().last().unwrap().contains("Action=GetFileList&BucketName=b1&Offset=0&Limit=10&"));

        mock.reply(502, &[], "<html>bad gateway</html>");
        let err = block_on(m.update_bucket("b1", BucketType::Public)).unwrap_err();
        assert_eq!((err.kind(), err.status(), err.code()), (ErrorKind::Server, Some(502), None));
        mock.reply(200, &[], r#"{"Action":"X"}"#);
        assert!(block_on(m.update_bucket("b1", BucketType::Public)).is_err(), "no RetCode");
    }

    #[test]
    fn buckets_stream_pages_by_offset() {
        use futures_util::StreamExt;
        let mock = Mock::default();
        mock.reply(200, &[], r#"{"RetCode":0,"DataSet":[{"BucketName":"a"},{"BucketName":"b"}]}"#);
        mock.reply(200, &[], r#"{"RetCode":0,"DataSet":[{"BucketName":"c"}]}"#);
        let m = manager(&mock);
        let names: Vec<String> = block_on(m.buckets(2).map(|b| b.unwrap().bucket_name).collect());
        assert_eq!(names, ["a", "b", "c"]);
        assert!(mock.urls()[1].contains("Offset=2&Limit=2"));
    }
}
