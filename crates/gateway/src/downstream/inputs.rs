//! Input rounds for handshake-era clients: when an upstream that speaks only 2026-07-28 answers
//! a call with `input_required`, the gateway asks the client (sampling, elicitation, roots) and
//! retries the call with the answers, at most [`MAX_INPUT_ROUNDS`] times.

use rmcp::model::{ErrorData, InputRequest, InputRequests, InputResponses, ServerRequest};

use crate::upstream::Relay;

/// Rounds of `input_required` the gateway answers for a handshake-era client, at most.
pub(super) const MAX_INPUT_ROUNDS: usize = 8;

/// Answers an upstream's input requests by asking the client of `relay`.
pub(super) async fn answer_inputs(
    relay: &Relay,
    requests: InputRequests,
) -> Result<InputResponses, ErrorData> {
    let mut responses = InputResponses::new();
    for (key, request) in requests {
        let request = match request {
            InputRequest::CreateMessage(r) => ServerRequest::CreateMessageRequest(r),
            InputRequest::Elicitation(r) => ServerRequest::ElicitRequest(r),
            InputRequest::ListRoots(r) => ServerRequest::ListRootsRequest(r),
            _ => {
                return Err(ErrorData::internal_error(
                    format!("the server asked for an input ({key}) the gateway cannot relay"),
                    None,
                ));
            }
        };
        let answer = relay.ask(request).await?;
        let answer = serde_json::to_value(answer)
            .map_err(|e| ErrorData::internal_error(format!("unreadable answer: {e}"), None))?;
        responses.insert(key, answer);
    }
    Ok(responses)
}
