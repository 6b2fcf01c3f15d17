//! The guard corpus: real browser and device user-agents that no signature may
//! match (the false-positive guard of `check`, `import` and `export waf`). By
//! default it is fifteen sources together ([`GUARD`]): the npm package
//! `user-agents` (BSD-2-Clause, current desktop and mobile browsers), installed
//! at a pinned version by `npm ci` at the repository root, and the guard half
//! of uap-core's device test fixtures (Apache-2.0; old and new phones, TVs,
//! consoles, in-app and embedded browsers; `bot-signatures/data/SOURCES.md`
//! says where it comes from and which half is held out of every choice),
//! ua-parser-js's device fixtures (npm, MIT), and the guard half of
//! WhichBrowser's device fixtures (MIT; desktops, phones, TVs, consoles,
//! e-readers, cars), isbot's browser fixtures (Unlicense; rare, old,
//! in-app and embedded browsers), and browscap's test fixtures filed as
//! browsers (MIT; 17,000 desktop, mobile, text and embedded browsers from
//! two decades), and yauaa's test cases filed as a browser on a device
//! (Apache-2.0; 3,700 phones, TVs, consoles, cars, webviews), Mobile-Detect's
//! device fixtures (MIT; 1,660 phones and tablets), woothee's (Apache-2.0;
//! feature phones, consoles) and the `browser` gem's (MIT; in-app browsers),
//! and five parsers' test fixtures added in the ninth session: PhpUserAgent
//! (MIT), uasurfer (Apache-2.0), mileusna/useragent (MIT), bowser (MIT) and
//! Browser.php (MIT).
//! Any JSON array
//! of strings or of `{"userAgent": ...}` / `{"ua": ...}` objects, or a text
//! file with one user-agent per line, works too.

use std::path::{Path, PathBuf};

/// Where `npm ci` puts npm `user-agents`, relative to the repository root.
pub const DEFAULT_RELATIVE: &str = "node_modules/user-agents/dist/user-agents.json";

/// uap-core's device fixtures, the half the catalog is checked against.
pub const UAP_CORE_GUARD: &str = "bot-signatures/data/uap-core/devices-guard.txt";

/// ua-parser-js's device fixtures (npm, MIT, pinned like `user-agents`).
pub const UA_PARSER_JS_DEVICES: &str = "node_modules/ua-parser-js/test/device-test.json";

/// WhichBrowser's device fixtures, the half the catalog is checked against.
pub const WHICHBROWSER_GUARD: &str = "bot-signatures/data/whichbrowser/devices-guard.txt";

/// isbot's browser fixtures: rare and old browsers, in-app and embedded ones.
pub const ISBOT_BROWSERS: &str = "bot-signatures/data/isbot/browsers.txt";

/// browscap's test fixtures whose `Browser_Type` is "Browser" (a development
/// source: no half of it is held out).
pub const BROWSCAP_BROWSERS: &str = "bot-signatures/data/browscap/devices-guard.txt";

/// yauaa's test cases filed as a browser or webview on a device (a
/// development source, like browscap).
pub const YAUAA_BROWSERS: &str = "bot-signatures/data/yauaa/devices-guard.txt";

/// Mobile-Detect's device fixtures (MIT; phones and tablets of some 150
/// makers), less the lines that announce automation.
pub const MOBILE_DETECT_DEVICES: &str = "bot-signatures/data/mobile-detect/devices-guard.txt";

/// woothee's test sets filed as a PC, a phone or an appliance (Apache-2.0;
/// Japanese feature phones, consoles, old desktops).
pub const WOOTHEE_DEVICES: &str = "bot-signatures/data/woothee/devices-guard.txt";

/// The `browser` gem's browser fixtures (MIT; in-app and embedded browsers).
pub const FNANDO_BROWSERS: &str = "bot-signatures/data/fnando-browser/browsers-guard.txt";

/// PhpUserAgent's fixtures with no class (browsers; MIT), less the lines that
/// announce automation.
pub const PHP_USERAGENT_BROWSERS: &str = "bot-signatures/data/php-useragent/devices-guard.txt";

/// uasurfer's test cases filed as a browser on a phone, computer, tablet, TV
/// or console (Apache-2.0).
pub const UASURFER_DEVICES: &str = "bot-signatures/data/uasurfer/devices-guard.txt";

/// mileusna/useragent's test cases filed as desktop, mobile, tablet or TV
/// (MIT), less the lines that announce automation.
pub const MILEUSNA_DEVICES: &str = "bot-signatures/data/mileusna-useragent/devices-guard.txt";

/// bowser's acceptance cases on a desktop, mobile, tablet or TV platform
/// (MIT), less the lines that announce automation.
pub const BOWSER_DEVICES: &str = "bot-signatures/data/bowser/devices-guard.txt";

/// Browser.php's test lists filed as a browser (MIT; 5,200 desktop and mobile
/// browsers of two decades), less the lines the catalog flags, each with why.
pub const BROWSER_PHP_BROWSERS: &str = "bot-signatures/data/browser-php/devices-guard.txt";

/// The default guard corpus: every file, relative to the repository root.
pub const GUARD: [&str; 15] = [
    DEFAULT_RELATIVE,
    UAP_CORE_GUARD,
    UA_PARSER_JS_DEVICES,
    WHICHBROWSER_GUARD,
    ISBOT_BROWSERS,
    BROWSCAP_BROWSERS,
    YAUAA_BROWSERS,
    MOBILE_DETECT_DEVICES,
    WOOTHEE_DEVICES,
    FNANDO_BROWSERS,
    PHP_USERAGENT_BROWSERS,
    UASURFER_DEVICES,
    MILEUSNA_DEVICES,
    BOWSER_DEVICES,
    BROWSER_PHP_BROWSERS,
];

/// isbot's crawler fixtures: the examples of imported isbot entries.
pub const ISBOT_FIXTURES: &str = "bot-signatures/data/isbot/crawlers.txt";

/// The development sets of bots (labelled by their sources; no line of them is
/// held out): more examples for imported isbot entries, after isbot's own
/// fixtures and crawler-user-agents' instances. Relative to the repository root.
pub const DEVELOPMENT_BOTS: [&str; 11] = [
    "bot-signatures/data/uap-core/spiders-guard.txt",
    "bot-signatures/data/whichbrowser/bots-guard.txt",
    "bot-signatures/data/browscap/bots.txt",
    "bot-signatures/data/yauaa/robots.txt",
    "bot-signatures/data/mobile-detect/bots.txt",
    "bot-signatures/data/woothee/crawlers.txt",
    "bot-signatures/data/fnando-browser/bots.txt",
    "bot-signatures/data/php-useragent/bots.txt",
    "bot-signatures/data/uasurfer/bots.txt",
    "bot-signatures/data/mileusna-useragent/bots.txt",
    "bot-signatures/data/bowser/bots.txt",
];

/// Browser user-agents, deduplicated, in first-seen order.
#[derive(Debug, Clone)]
pub struct BrowserCorpus {
    /// Where they came from (the paths, joined by " + "), for messages.
    pub source: String,
    /// The user-agents.
    pub user_agents: Vec<String>,
    /// Each file and how many of `user_agents` it added, in order.
    pub files: Vec<(String, usize)>,
}

/// Why a corpus could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CorpusError {
    /// The file could not be read.
    #[error("cannot read browser corpus {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The JSON is not an array of strings or `{userAgent}` objects.
    #[error("browser corpus {path} is not a JSON array of user-agents: {message}")]
    Format { path: String, message: String },
    /// A file of the default corpus was not found.
    #[error("no browser corpus found (looked for {wanted} above {searched})")]
    NotFound { wanted: String, searched: String },
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Entry {
    Plain(String),
    Object {
        #[serde(rename = "userAgent", alias = "ua")]
        user_agent: String,
    },
}

impl BrowserCorpus {
    /// Reads a corpus file (JSON or one user-agent per line).
    pub fn load(path: &Path) -> Result<BrowserCorpus, CorpusError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CorpusError::Io {
            path: source.clone(),
            source: e,
        })?;
        let raw: Vec<String> = if text.trim_start().starts_with('[') {
            let entries: Vec<Entry> =
                serde_json::from_str(&text).map_err(|e| CorpusError::Format {
                    path: source.clone(),
                    message: e.to_string(),
                })?;
            entries
                .into_iter()
                .map(|e| match e {
                    Entry::Plain(s) | Entry::Object { user_agent: s } => s,
                })
                // A user-agent is one header line: a fixture with a line
                // break in it is not one.
                .filter(|s| !s.contains(['\r', '\n']))
                .collect()
        } else {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect()
        };
        let mut seen = std::collections::HashSet::new();
        let user_agents: Vec<String> = raw
            .into_iter()
            .filter(|ua| seen.insert(ua.clone()))
            .collect();
        Ok(BrowserCorpus {
            files: vec![(source.clone(), user_agents.len())],
            source,
            user_agents,
        })
    }

    /// Reads several corpus files into one, deduplicated across files.
    pub fn load_all(paths: &[PathBuf]) -> Result<BrowserCorpus, CorpusError> {
        let mut all = BrowserCorpus {
            source: String::new(),
            user_agents: Vec::new(),
            files: Vec::new(),
        };
        let mut seen = std::collections::HashSet::new();
        for path in paths {
            let one = BrowserCorpus::load(path)?;
            let before = all.user_agents.len();
            all.user_agents.extend(
                one.user_agents
                    .into_iter()
                    .filter(|u| seen.insert(u.clone())),
            );
            all.files.push((one.source, all.user_agents.len() - before));
        }
        all.source = all
            .files
            .iter()
            .map(|(f, _)| f.as_str())
            .collect::<Vec<_>>()
            .join(" + ");
        Ok(all)
    }

    /// The file user-agent `i` came from.
    pub fn source_of(&self, i: usize) -> &str {
        let mut end = 0;
        for (file, n) in &self.files {
            end += n;
            if i < end {
                return file;
            }
        }
        &self.source
    }

    /// Finds `relative` (a path from the repository root) in the current
    /// directory or any parent, then in the repository this crate was built from.
    pub fn find(relative: &str) -> Result<PathBuf, CorpusError> {
        let mut starts: Vec<PathBuf> = std::env::current_dir().into_iter().collect();
        starts.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        for start in &starts {
            for dir in start.ancestors() {
                let candidate = dir.join(relative);
                if candidate.is_file() {
                    return Ok(candidate);
                }
            }
        }
        Err(CorpusError::NotFound {
            wanted: relative.to_owned(),
            searched: starts
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" and "),
        })
    }

    /// Finds every file of the default guard corpus ([`GUARD`]).
    pub fn find_default() -> Result<Vec<PathBuf>, CorpusError> {
        GUARD.iter().map(|r| BrowserCorpus::find(r)).collect()
    }
}
