// The operator console's script: live calls as server-sent events, and a waiting list of
// approvals that refreshes itself while nobody is typing a reason.
"use strict";

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
}

function watchCalls() {
  const table = document.querySelector("#calls tbody");
  if (!table) return;
  const status = document.getElementById("calls-status");
  const source = new EventSource("/ui/calls/stream");
  source.onopen = () => { status.textContent = "Connected: calls appear here as they finish."; };
  source.onerror = () => { status.textContent = "Disconnected; reconnecting…"; };
  source.addEventListener("skipped", (event) => {
    status.textContent = event.data + " calls were skipped: this page fell behind.";
  });
  source.onmessage = (event) => {
    const record = JSON.parse(event.data);
    const row = document.createElement("tr");
    row.dataset.seq = record.seq;
    cell(row, record.time, "time");
    cell(row, record.client + (record.user_name ? " (" + record.user_name + ")" : ""), "client");
    cell(row, record.tool, "tool");
    cell(row, record.outcome, "outcome " + record.outcome);
    cell(row, String(record.latency_ms), "latency");
    const approval = record.approval ? record.approval.decision + " by " + (record.approval.by || "—") + " " : "";
    cell(row, approval + (record.layer || "") + " " + (record.message || ""), "detail");
    table.prepend(row);
    while (table.rows.length > 200) table.deleteRow(-1);
  };
}

function refreshApprovals() {
  if (!document.querySelector("form.decide, #no-approvals")) return;
  setInterval(() => {
    const typing = Array.from(document.querySelectorAll("input[name=reason]"))
      .some((input) => input.value !== "" || input === document.activeElement);
    if (!typing) window.location.replace("/ui/approvals");
  }, 3000);
}

document.addEventListener("DOMContentLoaded", () => {
  watchCalls();
  refreshApprovals();
});
