//! The Web API methods the fake implements, each following api.slack.com's method page: required
//! scopes, arguments, response shape, cursor pagination and the documented error codes.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

use super::state::{
    BOT_ID, BOT_USER_ID, FakeChannel, FakeMessage, Reaction, TEAM_DOMAIN, TEAM_ID, Workspace,
};

/// Arguments of one call, merged from the query string and the (form or JSON) body.
pub(crate) type Args = BTreeMap<String, String>;

/// Slack's documented upper bound for `text` in `chat.postMessage`.
pub const MAX_MESSAGE_CHARS: usize = 40_000;

/// Emoji names `reactions.add` accepts (a standard subset; anything else is `invalid_name`).
const KNOWN_EMOJI: &[&str] = &[
    "+1",
    "thumbsup",
    "-1",
    "thumbsdown",
    "white_check_mark",
    "heavy_check_mark",
    "x",
    "eyes",
    "tada",
    "rocket",
    "fire",
    "warning",
    "rotating_light",
    "heart",
    "smile",
    "pray",
    "100",
    "ok",
    "hourglass",
    "construction",
    "bug",
    "memo",
    "raised_hands",
    "clap",
];

/// A `{"ok": false, "error": code, ...extra}` answer.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) code: String,
    pub(crate) extra: Map<String, Value>,
}

impl ApiError {
    pub(crate) fn new(code: &str) -> Self {
        Self {
            code: code.to_owned(),
            extra: Map::new(),
        }
    }
}

type Reply = Result<Map<String, Value>, ApiError>;

/// Whether the fake implements `method`.
pub(crate) fn is_known(method: &str) -> bool {
    matches!(
        method,
        "auth.test"
            | "chat.postMessage"
            | "chat.update"
            | "chat.getPermalink"
            | "conversations.list"
            | "conversations.history"
            | "conversations.replies"
            | "conversations.info"
            | "reactions.add"
            | "users.list"
    )
}

/// Whether Slack accepts a JSON body for `method` (write methods only; read methods take
/// form-encoded bodies or query arguments and ignore a JSON body).
pub(crate) fn accepts_json(method: &str) -> bool {
    matches!(method, "chat.postMessage" | "chat.update" | "reactions.add")
}

/// Runs one known method against the workspace.
pub(crate) fn dispatch(ws: &mut Workspace, method: &str, args: &Args) -> Reply {
    match method {
        "auth.test" => auth_test(),
        "chat.postMessage" => post_message(ws, args),
        "chat.update" => update_message(ws, args),
        "chat.getPermalink" => get_permalink(ws, args),
        "conversations.list" => conversations_list(ws, args),
        "conversations.history" => conversations_history(ws, args),
        "conversations.replies" => conversations_replies(ws, args),
        "conversations.info" => conversations_info(ws, args),
        "reactions.add" => reactions_add(ws, args),
        "users.list" => users_list(ws, args),
        _ => Err(ApiError::new("unknown_method")),
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn require_scope(ws: &Workspace, scope: &str) -> Result<(), ApiError> {
    if ws.has_scope(scope) {
        return Ok(());
    }
    let mut error = ApiError::new("missing_scope");
    error.extra.insert("needed".to_owned(), json!(scope));
    error
        .extra
        .insert("provided".to_owned(), json!(ws.scopes.join(",")));
    Err(error)
}

fn arg<'a>(args: &'a Args, name: &str) -> Option<&'a str> {
    args.get(name)
        .map(String::as_str)
        .filter(|value| !value.is_empty())
}

fn flag(args: &Args, name: &str) -> bool {
    matches!(arg(args, name), Some("true" | "1"))
}

/// A channel the bot can see (private channels only when it is a member).
fn visible_channel(
    ws: &Workspace,
    key: Option<&str>,
    by_name: bool,
) -> Result<FakeChannel, ApiError> {
    let channel = key
        .and_then(|key| ws.channel(key, by_name))
        .filter(|channel| !channel.is_private || channel.is_member)
        .ok_or_else(|| ApiError::new("channel_not_found"))?;
    Ok(channel.clone())
}

fn read_scope(channel: &FakeChannel) -> &'static str {
    if channel.is_private {
        "groups:read"
    } else {
        "channels:read"
    }
}

fn history_scope(channel: &FakeChannel) -> &'static str {
    if channel.is_private {
        "groups:history"
    } else {
        "channels:history"
    }
}

/// A ts as an orderable integer of microseconds, `None` when malformed.
fn ts_key(ts: &str) -> Option<u128> {
    let (seconds, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    if seconds.is_empty() || micros.len() > 6 {
        return None;
    }
    let seconds: u128 = seconds.parse().ok()?;
    let micros: u128 = format!("{micros:0<6}").parse().ok()?;
    Some(seconds * 1_000_000 + micros)
}

/// Parses `limit`: `default` when absent, clamped to `max`, `error` when not a number.
fn limit(args: &Args, default: usize, max: usize, error: &str) -> Result<usize, ApiError> {
    match arg(args, "limit") {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(0) => Ok(default),
            Ok(value) => Ok(value.min(max)),
            Err(_) => Err(ApiError::new(error)),
        },
    }
}

/// Cursor pagination: returns the page and the `next_cursor` (`""` on the last page).
fn paginate<T: Clone>(
    items: &[T],
    args: &Args,
    kind: &str,
    page: usize,
) -> Result<(Vec<T>, String), ApiError> {
    let start = match arg(args, "cursor") {
        None => 0,
        Some(cursor) => BASE64
            .decode(cursor)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.strip_prefix(&format!("{kind}:")).map(str::to_owned))
            .and_then(|offset| offset.parse::<usize>().ok())
            .filter(|offset| *offset <= items.len())
            .ok_or_else(|| ApiError::new("invalid_cursor"))?,
    };
    let end = (start + page).min(items.len());
    let next = if end < items.len() {
        BASE64.encode(format!("{kind}:{end}"))
    } else {
        String::new()
    };
    Ok((items[start..end].to_vec(), next))
}

fn metadata(next_cursor: &str) -> Value {
    json!({ "next_cursor": next_cursor })
}

fn message_json(all: &[FakeMessage], message: &FakeMessage) -> Value {
    let mut map = object(json!({
        "type": "message",
        "user": message.user,
        "text": message.text,
        "ts": message.ts,
        "team": TEAM_ID,
    }));
    if let Some(blocks) = &message.blocks {
        map.insert("blocks".to_owned(), blocks.clone());
    }
    if message.user == BOT_USER_ID {
        map.insert("bot_id".to_owned(), json!(BOT_ID));
        map.insert("app_id".to_owned(), json!("A0SWITCHB1"));
    }
    if let Some(parent) = &message.thread_ts {
        map.insert("thread_ts".to_owned(), json!(parent));
        if message.is_reply() {
            let parent_user = all.iter().find(|m| &m.ts == parent).map(|m| m.user.clone());
            map.insert("parent_user_id".to_owned(), json!(parent_user));
        } else {
            let replies: Vec<&FakeMessage> = all
                .iter()
                .filter(|m| m.is_reply() && m.thread_ts.as_ref() == Some(parent))
                .collect();
            let mut reply_users: Vec<&str> = replies.iter().map(|m| m.user.as_str()).collect();
            reply_users.dedup();
            map.insert("reply_count".to_owned(), json!(replies.len()));
            map.insert("reply_users_count".to_owned(), json!(reply_users.len()));
            map.insert("reply_users".to_owned(), json!(reply_users));
            map.insert(
                "latest_reply".to_owned(),
                json!(replies.last().map(|m| m.ts.clone())),
            );
        }
    }
    if !message.reactions.is_empty() {
        let reactions: Vec<Value> = message
            .reactions
            .iter()
            .map(|r| json!({"name": r.name, "users": r.users, "count": r.users.len()}))
            .collect();
        map.insert("reactions".to_owned(), json!(reactions));
    }
    Value::Object(map)
}

fn auth_test() -> Reply {
    Ok(object(json!({
        "url": format!("https://{TEAM_DOMAIN}.slack.com/"),
        "team": "Switchboard Test",
        "user": "switchboard",
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": false,
    })))
}

fn post_message(ws: &mut Workspace, args: &Args) -> Reply {
    require_scope(ws, "chat:write")?;
    let channel = visible_channel(ws, arg(args, "channel"), true)?;
    if channel.is_archived {
        return Err(ApiError::new("is_archived"));
    }
    let public_post = !channel.is_private && ws.has_scope("chat:write.public");
    if !channel.is_member && !public_post {
        return Err(ApiError::new("not_in_channel"));
    }
    let text = args.get("text").cloned().unwrap_or_default();
    let blocks = blocks(args)?;
    let has_blocks = blocks.is_some();
    if let Some(attachments) = arg(args, "attachments") {
        let parsed: Vec<Value> =
            serde_json::from_str(attachments).map_err(|_| ApiError::new("invalid_attachments"))?;
        if parsed.len() > 100 {
            return Err(ApiError::new("too_many_attachments"));
        }
    } else if text.trim().is_empty() && !has_blocks {
        return Err(ApiError::new("no_text"));
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::new("msg_too_long"));
    }
    let ts = ws.next_ts();
    let messages = ws.messages.entry(channel.id.clone()).or_default();
    let thread_ts = arg(args, "thread_ts").map(|requested| {
        // A reply to a reply joins the parent's thread, as in Slack.
        let parent = messages
            .iter()
            .find(|m| m.ts == requested)
            .and_then(|m| m.thread_ts.clone().filter(|_| m.is_reply()))
            .unwrap_or_else(|| requested.to_owned());
        if let Some(parent_message) = messages.iter_mut().find(|m| m.ts == parent) {
            parent_message.thread_ts = Some(parent.clone());
        }
        parent
    });
    let message = FakeMessage {
        ts: ts.clone(),
        user: BOT_USER_ID.to_owned(),
        text,
        thread_ts,
        reactions: Vec::new(),
        blocks,
    };
    messages.push(message.clone());
    let json_message = message_json(messages, &message);
    Ok(object(
        json!({ "channel": channel.id, "ts": ts, "message": json_message }),
    ))
}

/// The `blocks` argument: a JSON array of at most 50 blocks, each an object with a `type`
/// (`invalid_blocks` otherwise, as Slack answers).
fn blocks(args: &Args) -> Result<Option<Value>, ApiError> {
    let Some(text) = arg(args, "blocks") else {
        return Ok(None);
    };
    let blocks: Value = serde_json::from_str(text).map_err(|_| ApiError::new("invalid_blocks"))?;
    let valid = blocks.as_array().is_some_and(|all| {
        all.len() <= 50
            && all
                .iter()
                .all(|b| b.get("type").is_some_and(Value::is_string))
    });
    if valid {
        Ok(Some(blocks))
    } else {
        Err(ApiError::new("invalid_blocks"))
    }
}

/// `chat.update`: replaces the text (and blocks) of one of the bot's own messages.
fn update_message(ws: &mut Workspace, args: &Args) -> Reply {
    require_scope(ws, "chat:write")?;
    let channel = visible_channel(ws, arg(args, "channel"), false)?;
    let ts = arg(args, "ts").ok_or_else(|| ApiError::new("message_not_found"))?;
    let text = args.get("text").cloned().unwrap_or_default();
    let blocks = blocks(args)?;
    if text.trim().is_empty() && blocks.is_none() {
        return Err(ApiError::new("no_text"));
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::new("msg_too_long"));
    }
    let messages = ws.messages.entry(channel.id.clone()).or_default();
    let message = messages
        .iter_mut()
        .find(|m| m.ts == ts)
        .ok_or_else(|| ApiError::new("message_not_found"))?;
    if message.user != BOT_USER_ID {
        return Err(ApiError::new("cant_update_message"));
    }
    message.text.clone_from(&text);
    message.blocks = blocks;
    let updated = message.clone();
    let json_message = message_json(messages, &updated);
    Ok(object(
        json!({ "channel": channel.id, "ts": ts, "text": text, "message": json_message }),
    ))
}

fn get_permalink(ws: &mut Workspace, args: &Args) -> Reply {
    let channel = visible_channel(ws, arg(args, "channel"), false)?;
    let ts = arg(args, "message_ts").ok_or_else(|| ApiError::new("message_not_found"))?;
    let message = ws
        .messages
        .get(&channel.id)
        .and_then(|messages| messages.iter().find(|m| m.ts == ts))
        .ok_or_else(|| ApiError::new("message_not_found"))?;
    let mut permalink = format!(
        "https://{TEAM_DOMAIN}.slack.com/archives/{}/p{}",
        channel.id,
        ts.replace('.', "")
    );
    if let Some(parent) = message.thread_ts.as_ref().filter(|_| message.is_reply()) {
        permalink.push_str(&format!("?thread_ts={parent}&cid={}", channel.id));
    }
    Ok(object(
        json!({ "channel": channel.id, "permalink": permalink }),
    ))
}

fn conversations_list(ws: &mut Workspace, args: &Args) -> Reply {
    let types = arg(args, "types").unwrap_or("public_channel");
    let mut public = false;
    let mut private = false;
    for kind in types.split(',').map(str::trim) {
        let scope = match kind {
            "public_channel" => {
                public = true;
                "channels:read"
            }
            "private_channel" => {
                private = true;
                "groups:read"
            }
            "mpim" => "mpim:read",
            "im" => "im:read",
            _ => return Err(ApiError::new("invalid_types")),
        };
        require_scope(ws, scope)?;
    }
    let page = limit(args, 100, 1000, "invalid_limit")?;
    let exclude_archived = flag(args, "exclude_archived");
    let channels: Vec<Value> = ws
        .channels
        .iter()
        .filter(|c| {
            if c.is_private {
                private && c.is_member
            } else {
                public
            }
        })
        .filter(|c| !(exclude_archived && c.is_archived))
        .map(FakeChannel::to_json)
        .collect();
    let (channels, next) = paginate(&channels, args, "team", page)?;
    Ok(object(
        json!({ "channels": channels, "response_metadata": metadata(&next) }),
    ))
}

fn readable_channel(ws: &Workspace, args: &Args) -> Result<FakeChannel, ApiError> {
    let channel = visible_channel(ws, arg(args, "channel"), false)?;
    require_scope(ws, history_scope(&channel))?;
    if !channel.is_member {
        return Err(ApiError::new("not_in_channel"));
    }
    Ok(channel)
}

fn bound(args: &Args, name: &str, error: &str) -> Result<Option<u128>, ApiError> {
    arg(args, name)
        .map(|ts| ts_key(ts).ok_or_else(|| ApiError::new(error)))
        .transpose()
}

fn conversations_history(ws: &mut Workspace, args: &Args) -> Reply {
    let channel = readable_channel(ws, args)?;
    let oldest = bound(args, "oldest", "invalid_ts_oldest")?;
    let latest = bound(args, "latest", "invalid_ts_latest")?;
    let inclusive = flag(args, "inclusive");
    let page = limit(args, 100, 999, "invalid_limit")?;
    let all = ws.messages.get(&channel.id).cloned().unwrap_or_default();
    let in_range = |key: u128| {
        let after = oldest.is_none_or(|o| if inclusive { key >= o } else { key > o });
        let before = latest.is_none_or(|l| if inclusive { key <= l } else { key < l });
        after && before
    };
    let mut selected: Vec<Value> = all
        .iter()
        .filter(|m| !m.is_reply())
        .filter(|m| ts_key(&m.ts).is_some_and(in_range))
        .map(|m| message_json(&all, m))
        .collect();
    selected.reverse();
    let (messages, next) = paginate(&selected, args, "next_ts", page)?;
    Ok(object(json!({
        "messages": messages,
        "has_more": !next.is_empty(),
        "pin_count": 0,
        "response_metadata": metadata(&next),
    })))
}

fn conversations_replies(ws: &mut Workspace, args: &Args) -> Reply {
    let channel = readable_channel(ws, args)?;
    let ts = arg(args, "ts").ok_or_else(|| ApiError::new("thread_not_found"))?;
    let page = limit(args, 1000, 1000, "invalid_limit")?;
    let all = ws.messages.get(&channel.id).cloned().unwrap_or_default();
    let target = all
        .iter()
        .find(|m| m.ts == ts)
        .ok_or_else(|| ApiError::new("thread_not_found"))?;
    let parent = if target.is_reply() {
        target.thread_ts.clone()
    } else {
        Some(target.ts.clone())
    };
    let thread: Vec<Value> = all
        .iter()
        .filter(|m| Some(&m.ts) == parent.as_ref() || (m.is_reply() && m.thread_ts == parent))
        .map(|m| message_json(&all, m))
        .collect();
    let (messages, next) = paginate(&thread, args, "next_ts", page)?;
    Ok(object(json!({
        "messages": messages,
        "has_more": !next.is_empty(),
        "response_metadata": metadata(&next),
    })))
}

fn conversations_info(ws: &mut Workspace, args: &Args) -> Reply {
    let channel = visible_channel(ws, arg(args, "channel"), false)?;
    require_scope(ws, read_scope(&channel))?;
    Ok(object(json!({ "channel": channel.to_json() })))
}

fn valid_emoji(name: &str) -> bool {
    KNOWN_EMOJI.contains(&name)
        || name
            .strip_prefix("skin-tone-")
            .is_some_and(|tone| matches!(tone, "2" | "3" | "4" | "5" | "6"))
}

fn reactions_add(ws: &mut Workspace, args: &Args) -> Reply {
    require_scope(ws, "reactions:write")?;
    let name = arg(args, "name").ok_or_else(|| ApiError::new("invalid_name"))?;
    let (Some(channel), Some(timestamp)) = (arg(args, "channel"), arg(args, "timestamp")) else {
        return Err(ApiError::new("no_item_specified"));
    };
    let channel = visible_channel(ws, Some(channel), false)?;
    if channel.is_archived {
        return Err(ApiError::new("is_archived"));
    }
    if !channel.is_member {
        return Err(ApiError::new("not_in_channel"));
    }
    if ts_key(timestamp).is_none() {
        return Err(ApiError::new("bad_timestamp"));
    }
    if !valid_emoji(name) {
        return Err(ApiError::new("invalid_name"));
    }
    let message = ws
        .messages
        .get_mut(&channel.id)
        .and_then(|messages| messages.iter_mut().find(|m| m.ts == timestamp))
        .ok_or_else(|| ApiError::new("message_not_found"))?;
    match message.reactions.iter_mut().find(|r| r.name == name) {
        Some(reaction) if reaction.users.iter().any(|u| u == BOT_USER_ID) => {
            return Err(ApiError::new("already_reacted"));
        }
        Some(reaction) => reaction.users.push(BOT_USER_ID.to_owned()),
        None => message.reactions.push(Reaction {
            name: name.to_owned(),
            users: vec![BOT_USER_ID.to_owned()],
        }),
    }
    Ok(Map::new())
}

fn users_list(ws: &mut Workspace, args: &Args) -> Reply {
    require_scope(ws, "users:read")?;
    let page = limit(args, usize::MAX, 1000, "invalid_limit")?;
    let members: Vec<Value> = ws.users.iter().map(|user| user.to_json()).collect();
    let (members, next) = paginate(&members, args, "users", page)?;
    Ok(object(json!({
        "members": members,
        "cache_ts": 1_700_000_000,
        "response_metadata": metadata(&next),
    })))
}

#[cfg(test)]
mod tests {
    use super::{Args, paginate, ts_key};

    #[test]
    fn ts_keys_order_like_numbers() {
        assert!(ts_key("1700000000.000100") < ts_key("1700000000.000200"));
        assert!(ts_key("1699999999.999999") < ts_key("1700000000"));
        assert_eq!(ts_key("not-a-ts"), None);
    }

    #[test]
    fn cursors_walk_the_list_and_reject_foreign_ones() {
        let items: Vec<u32> = (0..5).collect();
        let mut args = Args::new();
        let (first, next) = paginate(&items, &args, "team", 2).expect("first page");
        assert_eq!(first, vec![0, 1]);
        args.insert("cursor".into(), next);
        let (second, next) = paginate(&items, &args, "team", 2).expect("second page");
        assert_eq!(second, vec![2, 3]);
        args.insert("cursor".into(), next.clone());
        let (third, last) = paginate(&items, &args, "team", 2).expect("third page");
        assert_eq!((third, last.as_str()), (vec![4], ""));
        assert_eq!(
            paginate(&items, &args, "users", 2)
                .map(|_| ())
                .unwrap_err()
                .code,
            "invalid_cursor"
        );
    }
}
