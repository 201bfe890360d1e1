// Live updates of the tracking page: follows the page's event stream (Server-Sent Events) and updates the
// document. Every text from the server is set with textContent, never parsed as HTML.
"use strict";

(function () {
  const root = document.getElementById("tracking");
  if (!root || typeof EventSource === "undefined") {
    return;
  }
  const texts = root.dataset;
  const history = document.getElementById("history");
  const noEvents = document.getElementById("no-events");
  const liveStatus = document.getElementById("live-status");
  const status = document.getElementById("status");
  const milestones = document.getElementById("milestones");

  let instantFormat = null;
  try {
    instantFormat = new Intl.DateTimeFormat(root.dataset.lang, { dateStyle: "medium", timeStyle: "short" });
  } catch (unsupported) {
    instantFormat = null; // the server's UTC wording stays
  }

  // An instant in the reader's own time zone (the server writes UTC).
  function localTime(element) {
    const at = new Date(element.getAttribute("datetime"));
    if (instantFormat && !Number.isNaN(at.getTime())) {
      element.textContent = instantFormat.format(at);
    }
    return element;
  }

  function span(className, text) {
    const element = document.createElement("span");
    element.className = className;
    element.textContent = text;
    return element;
  }

  function time(iso, text, instant) {
    const element = document.createElement("time");
    element.className = "when";
    element.setAttribute("datetime", iso);
    element.textContent = text;
    if (instant) {
      element.setAttribute("data-instant", "");
      localTime(element);
    }
    return element;
  }

  // Cursors are decimal strings (uint64): compare by length, then digit by digit.
  function cursorAfter(a, b) {
    return a.length !== b.length ? a.length > b.length : a > b;
  }

  // Newest first: by when it happened, then by cursor.
  function shownAbove(event, entry) {
    const mine = Date.parse(event.at);
    const theirs = Date.parse(entry.dataset.at);
    return mine !== theirs ? mine > theirs : cursorAfter(event.cursor, entry.dataset.cursor);
  }

  function addEvent(event) {
    const entries = Array.from(history.children);
    if (entries.some((entry) => entry.dataset.cursor === event.cursor)) {
      return; // already shown (a reconnect replays from the last id the browser saw)
    }
    const item = document.createElement("li");
    item.dataset.cursor = event.cursor;
    item.dataset.at = event.at;
    item.dataset.status = event.status;
    item.append(time(event.at, event.when, true), span("status-text", event.status_text));
    item.append(span("description", event.description));
    if (event.place) {
      item.append(span("place", event.place));
    }
    history.insertBefore(item, entries.find((entry) => shownAbove(event, entry)) || null);
    noEvents.hidden = true;
  }

  function showState(state) {
    status.textContent = state.status_text;
    const items = Array.from(milestones.children);
    for (const milestone of state.milestones) {
      const item = items.find((candidate) => candidate.dataset.milestone === milestone.key);
      if (!item) {
        continue;
      }
      item.classList.toggle("reached", milestone.reached);
      item.classList.toggle("pending", !milestone.reached);
      if (milestone.key === state.current) {
        item.setAttribute("aria-current", "step");
      } else {
        item.removeAttribute("aria-current");
      }
      const progress = item.querySelector(".progress");
      if (progress) {
        progress.textContent = milestone.reached ? texts.textReached : texts.textPending;
      }
      const when = milestone.at
        ? time(milestone.at, milestone.when, milestone.key !== "refund")
        : span("when", milestone.when);
      item.querySelector(".when").replaceWith(when);
    }
  }

  function setLive(live) {
    root.dataset.live = live ? "true" : "false";
    liveStatus.textContent = live ? texts.textLive : texts.textReconnecting;
  }

  document.querySelectorAll("time[data-instant]").forEach(localTime);

  const source = new EventSource(root.dataset.eventsUrl);
  source.addEventListener("tracking", (message) => addEvent(JSON.parse(message.data)));
  source.addEventListener("state", (message) => showState(JSON.parse(message.data)));
  source.addEventListener("live", () => setLive(true));
  source.addEventListener("error", () => setLive(false));
})();
