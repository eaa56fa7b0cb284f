// Progressive enhancement of the search page: answers arrive from /api/search without a reload.
// Without this script the plain GET form works the same. Text is only ever set with textContent.
"use strict";

(function () {
  const form = document.getElementById("search");
  const outcome = document.getElementById("outcome");
  const template = document.getElementById("hit-template");
  if (!form || !outcome || !template || !window.fetch) return;
  const input = form.elements.q;
  const button = form.querySelector("button");
  const cues = JSON.parse(form.dataset.cues);
  const pageUrl = form.getAttribute("action");
  const shown = { search: location.search }; // the query string whose answer is on screen
  const sourcePrefix = form.dataset.sourcePrefix || "";
  const documentUrl = template.content.querySelector("[data-slot=link]").getAttribute("href").split("?")[0];

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A source as the server shows it (qa/web/display.py shown_source): relative to the corpus folder.
  function shownSource(source) {
    if (sourcePrefix && source.startsWith(sourcePrefix)) return source.slice(sourcePrefix.length);
    if (/^(?:\/|\\|[A-Za-z]:[\\/])/.test(source)) return source.split(/[\\/]/).pop();
    return source;
  }

  // An id in a URL path (qa/web/links.py id_path): each segment encoded, and every "/" too
  // when a segment is empty, "." or "..", which the browser would resolve away.
  function idPath(id) {
    const segments = id.split("/");
    const resolved = segments.length > 1 && segments.some((s) => s === "" || s === "." || s === "..");
    return segments.map(encodeURIComponent).join(resolved ? "%2F" : "/");
  }

  // The page title for a question, without bidi embeddings, overrides and isolates, which would
  // turn the rest of the title around (qa/web/display.py without_bidi_controls).
  function titleOf(question) {
    return question.replace(/[\u202a-\u202e\u2066-\u2069]/g, "") + " · Ask the documents";
  }

  function docLink(hit, question) {
    const base = documentUrl.replace(/_$/, idPath(hit.document.id));
    const params = new URLSearchParams({
      start: hit.start, end: hit.end,
      sentence_start: hit.start + hit.highlight.start, sentence_end: hit.start + hit.highlight.end,
      q: question,
    });
    return base + "?" + params + "#cited";
  }

  // Where a passage is in its PDF or DOCX (qa/retrieve/results.py location_label): "p. 12",
  // "pp. 12–13", "3 Results › 3.2 Costs"; "" for other documents.
  function locationLabel(hit) {
    if (hit.page) return hit.page_end && hit.page_end !== hit.page ? "pp. " + hit.page + "–" + hit.page_end : "p. " + hit.page;
    return (hit.section || []).join(" › ");
  }

  // The link to a PDF's or DOCX's original file (the _results.html original_file macro), at a PDF passage's page.
  function setOriginalFile(link, hit) {
    const suffix = /\.(pdf|docx)$/i.exec(hit.document.source || "");
    const kind = suffix ? suffix[1].toUpperCase() : "";
    link.hidden = !kind;
    if (!kind) {
      link.removeAttribute("href");
      return;
    }
    link.href = documentUrl.replace(/_$/, idPath(hit.document.id)) + "/original" + (hit.page ? "#page=" + hit.page : "");
    link.textContent = kind === "PDF" ? "Open the PDF" + (hit.page ? " at p. " + hit.page : "") : "Download the " + kind;
  }

  function card(hit, question) {
    const node = template.content.firstElementChild.cloneNode(true);
    node.querySelector("[data-slot=title]").textContent = hit.document.title;
    const [, level, label] = cues.find(([lowest]) => hit.similarity >= lowest);
    const cue = node.querySelector("[data-slot=cue]");
    cue.className = "cue cue-" + level;
    cue.textContent = label;
    cue.title = "similarity " + hit.similarity.toFixed(2);
    const quote = node.querySelector("[data-slot=passage]");
    const { start, end } = hit.highlight;
    const chars = Array.from(hit.text); // offsets count code points, as in Python, not UTF-16 units
    const part = (from, to) => chars.slice(from, to).join("");
    const mark = el("mark", "", "");
    if (hit.answer) { // the answer inside the sentence, only when the service gives one
      mark.append(part(start, hit.answer.start), el("strong", "answer", part(hit.answer.start, hit.answer.end)),
        part(hit.answer.end, end));
    } else {
      mark.append(part(start, end));
    }
    quote.replaceChildren(part(0, start), mark, part(end));
    quote.classList.toggle("reflowed", hit.page !== undefined); // a PDF's lines end where its page did
    node.querySelector("[data-slot=link]").href = docLink(hit, question);
    const where = el("span", "location", locationLabel(hit));
    where.dataset.slot = "location";
    node.querySelector("[data-slot=source]").replaceChildren(
      (shownSource(hit.document.source || "") || hit.document.id) + ",",
      ...(where.textContent ? [" ", where, ","] : []),
      " characters " + hit.start + "–" + hit.end,
    );
    setOriginalFile(node.querySelector("[data-slot=file]"), hit);
    node.querySelector("[data-slot=date]").textContent = hit.document.date || "";
    const original = node.querySelector("[data-slot=original]");
    if (/^https?:\/\//i.test(hit.document.source_url || "")) {
      original.href = hit.document.source_url;
      original.hidden = false;
    } else {
      original.removeAttribute("href");
      original.hidden = true;
    }
    return node;
  }

  function render(data) {
    const parts = [];
    if (data.abstained) {
      const note = el("p", "abstained");
      note.setAttribute("role", "status");
      note.append(el("strong", "", "No confident answer in these documents."));
      if (data.abstain_reason === "language") note.append(" " + data.abstain_message); // a text node, never HTML
      note.append(" These are the nearest passages; check them before relying on them.");
      parts.push(note);
    }
    const n = data.results.length;
    const summary = el("p", "summary");
    summary.append(n + " passage" + (n === 1 ? "" : "s") + " for “", el("bdi", "", data.query),
      "” · " + Math.round(data.took_ms) + " ms"); // the question isolated, as on the server's page
    summary.setAttribute("role", "status");
    const list = el("ol", "results");
    list.append(...data.results.map((hit) => card(hit, data.query)));
    outcome.replaceChildren(...parts, summary, list);
  }

  function showError(message) {
    const p = el("p", "error", message);
    p.setAttribute("role", "alert");
    outcome.replaceChildren(p);
  }

  let inFlight = null;

  async function ask(question) {
    const params = new URLSearchParams({ q: question });
    if (inFlight) inFlight.abort(); // the newest question wins
    const controller = (inFlight = new AbortController());
    outcome.setAttribute("aria-busy", "true");
    button.disabled = true;
    button.textContent = "Searching…";
    try {
      const response = await fetch(form.dataset.api + "?" + params, {
        headers: { Accept: "application/json" },
        signal: controller.signal,
      });
      const isJson = (response.headers.get("Content-Type") || "").includes("application/json");
      const data = isJson ? await response.json() : null;
      if (!response.ok || !data) {
        showError(data && data.error ? data.error.message : "The search failed (HTTP " + response.status + "). Try again.");
        return;
      }
      render(data);
      document.title = titleOf(question);
      history.pushState({ q: question, data }, "", pageUrl + "?" + params);
      shown.search = location.search;
    } catch (e) {
      if (e.name === "AbortError") return;
      showError(e instanceof TypeError ? "The service could not be reached. Check the connection and try again."
        : "The answer could not be shown (" + e.message + ").");
    } finally {
      if (inFlight === controller) {
        inFlight = null;
        outcome.removeAttribute("aria-busy");
        button.disabled = false;
        button.textContent = "Search";
      }
    }
  }

  form.addEventListener("submit", (event) => {
    const question = input.value.trim();
    if (!question) return; // the browser's own validation explains an empty box
    event.preventDefault();
    ask(question);
  });

  outcome.addEventListener("click", (event) => {
    const link = event.target.closest(".examples a");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    input.value = link.textContent;
    ask(link.textContent);
  });

  // The page as first served is an entry too: popstate then tells a new question from a #fragment.
  history.replaceState({ q: input.value, data: null, initial: true }, "");

  window.addEventListener("popstate", (event) => {
    const state = event.state;
    if (location.search === shown.search) return; // a #fragment link (the skip link) on this page
    shown.search = location.search;
    if (state && state.data) {
      input.value = state.q;
      document.title = titleOf(state.q);
      render(state.data);
    } else {
      window.location.reload(); // the server-rendered first page, or an entry we know nothing of
    }
  });

  document.addEventListener("keydown", (event) => {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      input.focus();
      input.select();
    }
  });

  form.dataset.enhanced = "true";
})();
