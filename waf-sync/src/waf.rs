//! The narrow WAF interface waf-sync needs ([`WafApi`]): managed regex
//! pattern sets and IP sets, and waf-sync's two rules in their container
//! ([`Target`]: a web ACL, or a rule group the stack's web ACL references);
//! and its implementation on `aws_sdk_wafv2::Client`. The only file that
//! names `aws_sdk_*`. Everything above it works on [`Stmt`] and [`RateRule`].

use std::collections::BTreeMap;

use aws_sdk_wafv2::Client;
use aws_sdk_wafv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_wafv2::types::{
    self as t, AndStatement, ByteMatchStatement, DefaultAction, FieldToMatch, IpAddressVersion,
    IpSetReferenceStatement, NotStatement, OrStatement, PositionalConstraint, RateBasedStatement,
    RateBasedStatementAggregateKeyType, RateBasedStatementCustomKey, RateLimitHeader, RateLimitIp,
    Regex, RegexMatchStatement, RegexPatternSetReferenceStatement, Rule, RuleAction, Scope,
    SingleHeader, Statement, TextTransformation, TextTransformationType, UriPath, VisibilityConfig,
};

use crate::plan::{Aggregate, RateRule, SetKind, Stmt};

/// A WAF failure, classified for the retry policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WafError {
    /// `WAFOptimisticLockException`: someone changed it since we read it.
    #[error("optimistic lock: the resource changed since it was read")]
    OptimisticLock,
    /// Throttling, `WAFInternalErrorException`, `WAFUnavailableEntityException`: retry later.
    #[error("transient WAF error: {0}")]
    Transient(String),
    /// The endpoint could not be reached.
    #[error("WAF endpoint unreachable: {0}")]
    Unreachable(String),
    /// The web ACL or rule group to write into does not exist.
    #[error("{0}")]
    NotFound(String),
    /// `WAFAssociatedItemException`: a set another rule (not waf-sync's)
    /// still references; it cannot be deleted yet.
    #[error("still referenced: {0}")]
    InUse(String),
    /// Anything else (bad input, missing resource, permissions).
    #[error("WAF error: {0}")]
    Other(String),
}

/// A managed set: a regex pattern set or an IP set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetInfo {
    /// What it holds.
    pub kind: SetKind,
    /// Name.
    pub name: String,
    /// Id.
    pub id: String,
    /// ARN, referenced by rules.
    pub arn: String,
}

/// A set's content with the token to update it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetContent {
    /// Regexes or CIDR blocks, sorted.
    pub items: Vec<String>,
    /// Description (carries `rows=N`).
    pub description: String,
    /// Lock token.
    pub lock_token: String,
}

/// Where waf-sync's rules live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// In this web ACL, beside its other rules (written back exactly).
    WebAcl(String),
    /// In this rule group, which the web ACL references: the deployment
    /// template owns the web ACL and the group, waf-sync only the group's
    /// rules named after its prefix, so a stack update never drops them.
    RuleGroup(String),
}

impl Target {
    /// Its name.
    pub fn name(&self) -> &str {
        match self {
            Target::WebAcl(n) | Target::RuleGroup(n) => n,
        }
    }

    /// "web ACL NAME" or "rule group NAME", for messages.
    pub fn describe(&self) -> String {
        match self {
            Target::WebAcl(n) => format!("web ACL {n:?}"),
            Target::RuleGroup(n) => format!("rule group {n:?}"),
        }
    }
}

impl From<&str> for Target {
    fn from(name: &str) -> Target {
        Target::WebAcl(name.to_owned())
    }
}

/// The rule container as read, for the write that follows.
#[derive(Debug, Clone)]
pub enum Container {
    /// A web ACL.
    Acl(Box<t::WebAcl>),
    /// A rule group.
    Group(Box<t::RuleGroup>),
}

impl Container {
    fn rules(&self) -> &[Rule] {
        match self {
            Container::Acl(a) => a.rules(),
            Container::Group(g) => g.rules(),
        }
    }
}

/// The rule container (web ACL or rule group) as waf-sync sees it: its
/// managed rules parsed, the rest opaque.
#[derive(Debug, Clone)]
pub struct AclSnapshot<A> {
    /// Lock token of this read.
    pub lock_token: String,
    /// The user-agent block rule's statement, when present and readable.
    pub ua_rule: Option<Stmt>,
    /// The rate-based rule, when present and readable.
    pub rate_rule: Option<RateRule>,
    /// Names of the rules waf-sync does not manage (written back unchanged).
    pub foreign_rules: Vec<String>,
    /// A rule group's capacity (fixed when it was created): the rules must fit.
    pub capacity: Option<u32>,
    /// The web ACL or rule group as read.
    pub raw: A,
}

/// What waf-sync calls. Implemented for the AWS SDK client; tests may use
/// another implementation.
#[allow(async_fn_in_trait)]
pub trait WafApi {
    /// The web ACL as the implementation reads it (opaque above this file).
    type Acl: Clone;
    /// Managed sets of both kinds (name starts with the prefix), by name.
    async fn list_sets(&self, prefix: &str) -> Result<Vec<SetInfo>, WafError>;
    /// A set's regexes or addresses.
    async fn get_set(&self, set: &SetInfo) -> Result<SetContent, WafError>;
    /// Creates a set.
    async fn create_set(
        &self,
        kind: SetKind,
        name: &str,
        items: &[String],
        description: &str,
    ) -> Result<SetInfo, WafError>;
    /// Replaces a set's regexes or addresses.
    async fn update_set(
        &self,
        set: &SetInfo,
        items: &[String],
        description: &str,
        lock_token: &str,
    ) -> Result<(), WafError>;
    /// Deletes a set.
    async fn delete_set(&self, set: &SetInfo, lock_token: &str) -> Result<(), WafError>;
    /// Reads the rule container (the web ACL or the rule group); `set_names`
    /// maps ARN → set name for parsing references.
    async fn get_acl(
        &self,
        set_names: &BTreeMap<String, String>,
    ) -> Result<AclSnapshot<Self::Acl>, WafError>;
    /// Writes the rule container: the snapshot's foreign rules unchanged, the
    /// managed rules as given (absent → removed). `set_arns` maps set name → ARN.
    async fn update_acl(
        &self,
        snapshot: &AclSnapshot<Self::Acl>,
        ua_rule: Option<&Stmt>,
        rate_rule: Option<&RateRule>,
        set_arns: &BTreeMap<String, String>,
    ) -> Result<(), WafError>;
}

/// The AWS SDK implementation.
pub struct SdkWaf {
    client: Client,
    scope: Scope,
    target: Target,
    prefix: String,
}

impl SdkWaf {
    /// Builds the client from the standard AWS environment (`AWS_REGION`,
    /// credentials, `AWS_ENDPOINT_URL`). CLOUDFRONT scope forces us-east-1.
    pub async fn from_env(
        scope_cloudfront: bool,
        target: impl Into<Target>,
        prefix: &str,
    ) -> SdkWaf {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if scope_cloudfront {
            loader = loader.region(aws_config::Region::new("us-east-1"));
        }
        let config = loader.load().await;
        SdkWaf {
            client: Client::new(&config),
            scope: if scope_cloudfront {
                Scope::Cloudfront
            } else {
                Scope::Regional
            },
            target: target.into(),
            prefix: prefix.to_owned(),
        }
    }

    /// A client for an explicit endpoint with static credentials: a local WAF
    /// emulator in tests and demos.
    pub async fn with_endpoint(
        endpoint: &str,
        scope_cloudfront: bool,
        target: impl Into<Target>,
        prefix: &str,
    ) -> SdkWaf {
        let creds = aws_sdk_wafv2::config::Credentials::new("test", "test", None, None, "static");
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(creds)
            .load()
            .await;
        SdkWaf {
            client: Client::new(&config),
            scope: if scope_cloudfront {
                Scope::Cloudfront
            } else {
                Scope::Regional
            },
            target: target.into(),
            prefix: prefix.to_owned(),
        }
    }

    /// The same client writing into another container (the custom-resource
    /// event names the stack's rule group).
    pub fn retarget(&self, target: Target) -> SdkWaf {
        SdkWaf {
            client: Client::clone(&self.client),
            scope: self.scope.clone(),
            target,
            prefix: self.prefix.clone(),
        }
    }

    /// Where the rules go.
    pub fn target(&self) -> &Target {
        &self.target
    }

    fn ua_rule_name(&self) -> String {
        format!("{}-ua-block", self.prefix)
    }

    fn rate_rule_name(&self) -> String {
        format!("{}-rate", self.prefix)
    }

    async fn acl_summary(&self, name: &str) -> Result<t::WebAclSummary, WafError> {
        let (client, scope) = (&self.client, &self.scope);
        all_pages(|marker| async move {
            let out = client
                .list_web_acls()
                .scope(scope.clone())
                .set_next_marker(marker)
                .limit(100)
                .send()
                .await
                .map_err(classify)?;
            Ok((
                out.web_acls().to_vec(),
                out.next_marker().map(str::to_owned),
            ))
        })
        .await?
        .into_iter()
        .find(|a| a.name() == Some(name))
        .ok_or_else(|| {
            WafError::NotFound(format!(
                "web ACL {name:?} not found in scope {:?}: deploy it first (deploy/)",
                self.scope
            ))
        })
    }

    async fn group_summary(&self, name: &str) -> Result<t::RuleGroupSummary, WafError> {
        let (client, scope) = (&self.client, &self.scope);
        all_pages(|marker| async move {
            let out = client
                .list_rule_groups()
                .scope(scope.clone())
                .set_next_marker(marker)
                .limit(100)
                .send()
                .await
                .map_err(classify)?;
            Ok((out.rule_groups().to_vec(), out.next_marker().map(str::to_owned)))
        })
        .await?
        .into_iter()
        .find(|g| g.name() == Some(name))
        .ok_or_else(|| {
            WafError::NotFound(format!(
                "rule group {name:?} not found in scope {:?}: deploy the stack first (deploy/edge-stack.json creates it)",
                self.scope
            ))
        })
    }
}

/// Every item of a paged WAF listing. `fetch(marker)` returns one page and
/// the next marker; the listing ends at no marker or an empty page.
async fn all_pages<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, WafError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), WafError>>,
{
    let mut out = Vec::new();
    let mut marker = None;
    loop {
        // Boxed: the SDK futures are deep, and nesting them in this one
        // overflows the compiler's layout depth in the Lambda entry.
        let (items, next) = Box::pin(fetch(marker)).await?;
        let empty = items.is_empty();
        out.extend(items);
        match next {
            Some(m) if !empty => marker = Some(m),
            _ => return Ok(out),
        }
    }
}

fn classify<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> WafError {
    match &e {
        SdkError::DispatchFailure(d) => return WafError::Unreachable(format!("{d:?}")),
        SdkError::TimeoutError(_) => return WafError::Unreachable("timeout".into()),
        _ => {}
    }
    let code = e.code().unwrap_or_default().to_owned();
    let message = e.message().unwrap_or_default().to_owned();
    match code.as_str() {
        "WAFOptimisticLockException" => WafError::OptimisticLock,
        "WAFAssociatedItemException" => WafError::InUse(message),
        "ThrottlingException"
        | "TooManyRequestsException"
        | "WAFInternalErrorException"
        | "WAFUnavailableEntityException" => WafError::Transient(format!("{code}: {message}")),
        "" => WafError::Other(format!("{e:?}")),
        _ => WafError::Other(format!("{code}: {message}")),
    }
}

fn build_err(e: impl std::fmt::Display) -> WafError {
    WafError::Other(format!("building a request: {e}"))
}

fn ua_field() -> Result<FieldToMatch, WafError> {
    Ok(FieldToMatch::builder()
        .single_header(
            SingleHeader::builder()
                .name("user-agent")
                .build()
                .map_err(build_err)?,
        )
        .build())
}

fn lowercase() -> Result<TextTransformation, WafError> {
    TextTransformation::builder()
        .priority(0)
        .r#type(TextTransformationType::Lowercase)
        .build()
        .map_err(build_err)
}

fn children(list: &[Stmt], arns: &BTreeMap<String, String>) -> Result<Vec<Statement>, WafError> {
    list.iter().map(|s| to_sdk(s, arns)).collect()
}

fn to_sdk(stmt: &Stmt, arns: &BTreeMap<String, String>) -> Result<Statement, WafError> {
    Ok(match stmt {
        Stmt::Or(list) => Statement::builder()
            .or_statement(
                OrStatement::builder()
                    .set_statements(Some(children(list, arns)?))
                    .build()
                    .map_err(build_err)?,
            )
            .build(),
        Stmt::And(list) => Statement::builder()
            .and_statement(
                AndStatement::builder()
                    .set_statements(Some(children(list, arns)?))
                    .build()
                    .map_err(build_err)?,
            )
            .build(),
        Stmt::Not(inner) => Statement::builder()
            .not_statement(
                NotStatement::builder()
                    .statement(to_sdk(inner, arns)?)
                    .build(),
            )
            .build(),
        Stmt::SetRef(name) => {
            let arn = arns
                .get(name)
                .ok_or_else(|| WafError::Other(format!("no ARN for pattern set {name}")))?;
            Statement::builder()
                .regex_pattern_set_reference_statement(
                    RegexPatternSetReferenceStatement::builder()
                        .arn(arn)
                        .field_to_match(ua_field()?)
                        .text_transformations(lowercase()?)
                        .build()
                        .map_err(build_err)?,
                )
                .build()
        }
        Stmt::IpSetRef(name) => {
            let arn = arns
                .get(name)
                .ok_or_else(|| WafError::Other(format!("no ARN for IP set {name}")))?;
            Statement::builder()
                .ip_set_reference_statement(
                    IpSetReferenceStatement::builder()
                        .arn(arn)
                        .build()
                        .map_err(build_err)?,
                )
                .build()
        }
        Stmt::Regex(r) => Statement::builder()
            .regex_match_statement(
                RegexMatchStatement::builder()
                    .regex_string(r)
                    .field_to_match(ua_field()?)
                    .text_transformations(lowercase()?)
                    .build()
                    .map_err(build_err)?,
            )
            .build(),
    })
}

fn from_sdk(s: &Statement, names: &BTreeMap<String, String>) -> Option<Stmt> {
    let all = |list: &[Statement]| {
        list.iter()
            .map(|x| from_sdk(x, names))
            .collect::<Option<Vec<_>>>()
    };
    if let Some(o) = s.or_statement() {
        return all(o.statements()).map(Stmt::Or);
    }
    if let Some(a) = s.and_statement() {
        return all(a.statements()).map(Stmt::And);
    }
    if let Some(n) = s.not_statement() {
        return n
            .statement()
            .and_then(|x| from_sdk(x, names))
            .map(|x| Stmt::Not(Box::new(x)));
    }
    if let Some(r) = s.regex_pattern_set_reference_statement() {
        return names.get(r.arn()).cloned().map(Stmt::SetRef);
    }
    if let Some(r) = s.regex_match_statement() {
        return Some(Stmt::Regex(r.regex_string().to_owned()));
    }
    if let Some(r) = s.ip_set_reference_statement() {
        // Only waf-sync's own IP sets, without forwarded-address settings.
        if r.ip_set_forwarded_ip_config().is_some() {
            return None;
        }
        return names.get(r.arn()).cloned().map(Stmt::IpSetRef);
    }
    None
}

fn rate_to_sdk(rate: &RateRule) -> Result<Statement, WafError> {
    let mut b = RateBasedStatement::builder()
        .limit(rate.limit)
        .evaluation_window_sec(rate.window_s);
    b = match rate.aggregate {
        Aggregate::Ip => b.aggregate_key_type(RateBasedStatementAggregateKeyType::Ip),
        Aggregate::IpAndUserAgent => b
            .aggregate_key_type(RateBasedStatementAggregateKeyType::CustomKeys)
            .custom_keys(
                RateBasedStatementCustomKey::builder()
                    .ip(RateLimitIp::builder().build())
                    .build(),
            )
            .custom_keys(
                RateBasedStatementCustomKey::builder()
                    .header(
                        RateLimitHeader::builder()
                            .name("user-agent")
                            .text_transformations(
                                TextTransformation::builder()
                                    .priority(0)
                                    .r#type(TextTransformationType::None)
                                    .build()
                                    .map_err(build_err)?,
                            )
                            .build()
                            .map_err(build_err)?,
                    )
                    .build(),
            ),
    };
    if let Some(prefix) = &rate.scope_down_path_prefix {
        let scope = Statement::builder()
            .byte_match_statement(
                ByteMatchStatement::builder()
                    .search_string(aws_sdk_wafv2::primitives::Blob::new(prefix.as_bytes()))
                    .field_to_match(
                        FieldToMatch::builder()
                            .uri_path(UriPath::builder().build())
                            .build(),
                    )
                    .text_transformations(
                        TextTransformation::builder()
                            .priority(0)
                            .r#type(TextTransformationType::None)
                            .build()
                            .map_err(build_err)?,
                    )
                    .positional_constraint(PositionalConstraint::StartsWith)
                    .build()
                    .map_err(build_err)?,
            )
            .build();
        b = b.scope_down_statement(scope);
    }
    Ok(Statement::builder()
        .rate_based_statement(b.build().map_err(build_err)?)
        .build())
}

fn rate_from_sdk(s: &Statement) -> Option<RateRule> {
    let r = s.rate_based_statement()?;
    let aggregate = match r.aggregate_key_type() {
        RateBasedStatementAggregateKeyType::Ip => Aggregate::Ip,
        RateBasedStatementAggregateKeyType::CustomKeys => Aggregate::IpAndUserAgent,
        _ => return None,
    };
    let scope_down_path_prefix = match r.scope_down_statement() {
        None => None,
        Some(sd) => Some(
            String::from_utf8(sd.byte_match_statement()?.search_string().as_ref().to_vec()).ok()?,
        ),
    };
    Some(RateRule {
        limit: r.limit(),
        window_s: r.evaluation_window_sec(),
        aggregate,
        scope_down_path_prefix,
    })
}

/// A rule that blocks what `statement` matches, with metrics under its name.
fn blocking_rule(name: &str, priority: i32, statement: Statement) -> Result<Rule, WafError> {
    Rule::builder()
        .name(name)
        .priority(priority)
        .statement(statement)
        .action(
            RuleAction::builder()
                .block(t::BlockAction::builder().build())
                .build(),
        )
        .visibility_config(visibility(name)?)
        .build()
        .map_err(build_err)
}

fn visibility(name: &str) -> Result<VisibilityConfig, WafError> {
    VisibilityConfig::builder()
        .sampled_requests_enabled(true)
        .cloud_watch_metrics_enabled(true)
        .metric_name(name)
        .build()
        .map_err(build_err)
}

/// A listed set as waf-sync's, when its name starts with `prefix` and the
/// listing gave its name, id and ARN.
fn managed(
    kind: SetKind,
    prefix: &str,
    (name, id, arn): (Option<&str>, Option<&str>, Option<&str>),
) -> Option<SetInfo> {
    let (name, id, arn) = (name?, id?, arn?);
    name.starts_with(prefix).then(|| SetInfo {
        kind,
        name: name.to_owned(),
        id: id.to_owned(),
        arn: arn.to_owned(),
    })
}

impl WafApi for SdkWaf {
    type Acl = Container;

    async fn list_sets(&self, prefix: &str) -> Result<Vec<SetInfo>, WafError> {
        let (client, scope) = (&self.client, &self.scope);
        let regex = all_pages(|marker| async move {
            let page = client
                .list_regex_pattern_sets()
                .scope(scope.clone())
                .limit(100)
                .set_next_marker(marker)
                .send()
                .await
                .map_err(classify)?;
            Ok((
                page.regex_pattern_sets().to_vec(),
                page.next_marker().map(str::to_owned),
            ))
        })
        .await?;
        let ip = all_pages(|marker| async move {
            let page = client
                .list_ip_sets()
                .scope(scope.clone())
                .limit(100)
                .set_next_marker(marker)
                .send()
                .await
                .map_err(classify)?;
            Ok((
                page.ip_sets().to_vec(),
                page.next_marker().map(str::to_owned),
            ))
        })
        .await?;
        let mut out: Vec<SetInfo> = regex
            .iter()
            .filter_map(|s| managed(SetKind::Regex, prefix, (s.name(), s.id(), s.arn())))
            .chain(ip.iter().filter_map(|s| {
                let kind = crate::plan::kind_of(s.name().unwrap_or_default());
                managed(kind, prefix, (s.name(), s.id(), s.arn()))
            }))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn get_set(&self, set: &SetInfo) -> Result<SetContent, WafError> {
        if set.kind != SetKind::Regex {
            let out = self
                .client
                .get_ip_set()
                .scope(self.scope.clone())
                .name(&set.name)
                .id(&set.id)
                .send()
                .await
                .map_err(classify)?;
            let s = out
                .ip_set()
                .ok_or_else(|| WafError::Other("empty GetIPSet answer".into()))?;
            let mut items = s.addresses().to_vec();
            items.sort();
            return Ok(SetContent {
                items,
                description: s.description().unwrap_or_default().to_owned(),
                lock_token: out.lock_token().unwrap_or_default().to_owned(),
            });
        }
        let out = self
            .client
            .get_regex_pattern_set()
            .scope(self.scope.clone())
            .name(&set.name)
            .id(&set.id)
            .send()
            .await
            .map_err(classify)?;
        let s = out
            .regex_pattern_set()
            .ok_or_else(|| WafError::Other("empty GetRegexPatternSet answer".into()))?;
        let mut items: Vec<String> = s
            .regular_expression_list()
            .iter()
            .filter_map(|r| r.regex_string().map(str::to_owned))
            .collect();
        items.sort();
        Ok(SetContent {
            items,
            description: s.description().unwrap_or_default().to_owned(),
            lock_token: out.lock_token().unwrap_or_default().to_owned(),
        })
    }

    async fn create_set(
        &self,
        kind: SetKind,
        name: &str,
        items: &[String],
        description: &str,
    ) -> Result<SetInfo, WafError> {
        let summary = if kind == SetKind::Regex {
            let list: Vec<Regex> = items
                .iter()
                .map(|r| Regex::builder().regex_string(r).build())
                .collect();
            self.client
                .create_regex_pattern_set()
                .scope(self.scope.clone())
                .name(name)
                .description(description)
                .set_regular_expression_list(Some(list))
                .send()
                .await
                .map_err(classify)?
                .summary()
                .map(|s| (s.id().map(str::to_owned), s.arn().map(str::to_owned)))
        } else {
            self.client
                .create_ip_set()
                .scope(self.scope.clone())
                .name(name)
                .description(description)
                .ip_address_version(if kind == SetKind::Ipv6 {
                    IpAddressVersion::Ipv6
                } else {
                    IpAddressVersion::Ipv4
                })
                .set_addresses(Some(items.to_vec()))
                .send()
                .await
                .map_err(classify)?
                .summary()
                .map(|s| (s.id().map(str::to_owned), s.arn().map(str::to_owned)))
        };
        let Some((Some(id), Some(arn))) = summary else {
            return Err(WafError::Other(format!(
                "creating {name}: no id and ARN in the answer"
            )));
        };
        Ok(SetInfo {
            kind,
            name: name.to_owned(),
            id,
            arn,
        })
    }

    async fn update_set(
        &self,
        set: &SetInfo,
        items: &[String],
        description: &str,
        lock_token: &str,
    ) -> Result<(), WafError> {
        if set.kind != SetKind::Regex {
            self.client
                .update_ip_set()
                .scope(self.scope.clone())
                .name(&set.name)
                .id(&set.id)
                .description(description)
                .set_addresses(Some(items.to_vec()))
                .lock_token(lock_token)
                .send()
                .await
                .map_err(classify)?;
            return Ok(());
        }
        let list: Vec<Regex> = items
            .iter()
            .map(|r| Regex::builder().regex_string(r).build())
            .collect();
        self.client
            .update_regex_pattern_set()
            .scope(self.scope.clone())
            .name(&set.name)
            .id(&set.id)
            .description(description)
            .set_regular_expression_list(Some(list))
            .lock_token(lock_token)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn delete_set(&self, set: &SetInfo, lock_token: &str) -> Result<(), WafError> {
        if set.kind != SetKind::Regex {
            self.client
                .delete_ip_set()
                .scope(self.scope.clone())
                .name(&set.name)
                .id(&set.id)
                .lock_token(lock_token)
                .send()
                .await
                .map_err(classify)?;
            return Ok(());
        }
        self.client
            .delete_regex_pattern_set()
            .scope(self.scope.clone())
            .name(&set.name)
            .id(&set.id)
            .lock_token(lock_token)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn get_acl(
        &self,
        set_names: &BTreeMap<String, String>,
    ) -> Result<AclSnapshot<Container>, WafError> {
        let (raw, lock_token) = match &self.target {
            Target::WebAcl(name) => {
                let summary = self.acl_summary(name).await?;
                let out = self
                    .client
                    .get_web_acl()
                    .scope(self.scope.clone())
                    .name(name)
                    .id(summary.id().unwrap_or_default())
                    .send()
                    .await
                    .map_err(classify)?;
                let acl = out
                    .web_acl()
                    .ok_or_else(|| WafError::Other("empty GetWebACL answer".into()))?
                    .clone();
                (
                    Container::Acl(Box::new(acl)),
                    out.lock_token().unwrap_or_default().to_owned(),
                )
            }
            Target::RuleGroup(name) => {
                let summary = self.group_summary(name).await?;
                let out = self
                    .client
                    .get_rule_group()
                    .scope(self.scope.clone())
                    .name(name)
                    .id(summary.id().unwrap_or_default())
                    .send()
                    .await
                    .map_err(classify)?;
                let group = out
                    .rule_group()
                    .ok_or_else(|| WafError::Other("empty GetRuleGroup answer".into()))?
                    .clone();
                (
                    Container::Group(Box::new(group)),
                    out.lock_token().unwrap_or_default().to_owned(),
                )
            }
        };
        let (ua_name, rate_name) = (self.ua_rule_name(), self.rate_rule_name());
        let mut snapshot = AclSnapshot {
            lock_token,
            ua_rule: None,
            rate_rule: None,
            foreign_rules: Vec::new(),
            capacity: match &raw {
                Container::Group(g) => u32::try_from(g.capacity()).ok(),
                Container::Acl(_) => None,
            },
            raw: raw.clone(),
        };
        for rule in raw.rules() {
            if rule.name() == ua_name {
                snapshot.ua_rule = rule.statement().and_then(|s| from_sdk(s, set_names));
            } else if rule.name() == rate_name {
                snapshot.rate_rule = rule.statement().and_then(rate_from_sdk);
            } else {
                snapshot.foreign_rules.push(rule.name().to_owned());
            }
        }
        Ok(snapshot)
    }

    async fn update_acl(
        &self,
        snapshot: &AclSnapshot<Container>,
        ua_rule: Option<&Stmt>,
        rate_rule: Option<&RateRule>,
        set_arns: &BTreeMap<String, String>,
    ) -> Result<(), WafError> {
        let current = snapshot.raw.rules();
        let (ua_name, rate_name) = (self.ua_rule_name(), self.rate_rule_name());
        // Foreign rules exactly as read; the lock token makes WAF refuse the
        // write if anything changed since, and the caller then re-reads.
        let mut rules: Vec<Rule> = current
            .iter()
            .filter(|r| r.name() != ua_name && r.name() != rate_name)
            .cloned()
            .collect();
        let taken: Vec<i32> = rules.iter().map(Rule::priority).collect();
        let free = |start: i32| (start..).find(|p| !taken.contains(p)).unwrap_or(start);
        let existing = |name: &str| {
            current
                .iter()
                .find(|r| r.name() == name)
                .map(Rule::priority)
                .filter(|p| !taken.contains(p))
        };
        if let Some(rate) = rate_rule {
            let priority = existing(&rate_name).unwrap_or_else(|| free(100));
            rules.push(blocking_rule(&rate_name, priority, rate_to_sdk(rate)?)?);
        }
        if let Some(stmt) = ua_rule {
            let taken_now: Vec<i32> = rules.iter().map(Rule::priority).collect();
            let priority = existing(&ua_name)
                .filter(|p| !taken_now.contains(p))
                .unwrap_or_else(|| (110..).find(|p| !taken_now.contains(p)).unwrap_or(110));
            rules.push(blocking_rule(&ua_name, priority, to_sdk(stmt, set_arns)?)?);
        }
        rules.sort_by_key(Rule::priority);
        let acl = match &snapshot.raw {
            Container::Acl(acl) => acl,
            Container::Group(group) => {
                // UpdateRuleGroup replaces the group too: everything else goes
                // back as read. Its capacity is fixed at creation.
                self.client
                    .update_rule_group()
                    .scope(self.scope.clone())
                    .name(group.name())
                    .id(group.id())
                    .set_description(
                        group
                            .description()
                            .filter(|d| !d.is_empty())
                            .map(str::to_owned),
                    )
                    .set_rules(Some(rules))
                    .set_visibility_config(group.visibility_config().cloned())
                    .set_custom_response_bodies(group.custom_response_bodies().cloned())
                    .lock_token(&snapshot.lock_token)
                    .send()
                    .await
                    .map_err(classify)?;
                return Ok(());
            }
        };
        self.client
            .update_web_acl()
            .scope(self.scope.clone())
            .name(acl.name())
            .id(acl.id())
            .set_default_action(acl.default_action().cloned().or_else(|| {
                Some(
                    DefaultAction::builder()
                        .allow(t::AllowAction::builder().build())
                        .build(),
                )
            }))
            // AWS omits an unset description; an empty one is not a valid
            // EntityDescription (the emulator answers "" for none).
            .set_description(
                acl.description()
                    .filter(|d| !d.is_empty())
                    .map(str::to_owned),
            )
            .set_rules(Some(rules))
            .set_visibility_config(acl.visibility_config().cloned())
            // UpdateWebACL replaces the whole web ACL: every field not sent
            // is cleared. Everything else the ACL holds goes back as read.
            .set_data_protection_config(acl.data_protection_config().cloned())
            .set_custom_response_bodies(acl.custom_response_bodies().cloned())
            .set_captcha_config(acl.captcha_config().cloned())
            .set_challenge_config(acl.challenge_config().cloned())
            .set_token_domains(
                (!acl.token_domains().is_empty()).then(|| acl.token_domains().to_vec()),
            )
            .set_association_config(acl.association_config().cloned())
            .set_on_source_d_do_s_protection_config(
                acl.on_source_d_do_s_protection_config().cloned(),
            )
            .set_application_config(acl.application_config().cloned())
            .set_monetization_config(acl.monetization_config().cloned())
            .lock_token(&snapshot.lock_token)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}
