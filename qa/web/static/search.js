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
  const documentUrl = template.content.querySelector("[data-slot=link]").getAttribute("href").split("?")[0];

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function docLink(hit, question) {
    const base = documentUrl.replace(/_$/, hit.document.id.split("/").map(encodeURIComponent).join("/"));
    const params = new URLSearchParams({ start: hit.start, end: hit.end, q: question });
    return base + "?" + params + "#cited";
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
    quote.replaceChildren(hit.text.slice(0, start), el("mark", "", hit.text.slice(start, end)), hit.text.slice(end));
    node.querySelector("[data-slot=link]").href = docLink(hit, question);
    node.querySelector("[data-slot=source]").textContent =
      (hit.document.source || hit.document.id) + ", characters " + hit.start + "–" + hit.end;
    return node;
  }

  function render(data) {
    const parts = [];
    if (data.abstained) {
      const note = el("p", "abstained");
      note.setAttribute("role", "status");
      note.append(el("strong", "", "No confident answer in these documents."),
        " These are the nearest passages; check them before relying on them.");
      parts.push(note);
    }
    const n = data.results.length;
    const summary = el("p", "summary",
      n + " passage" + (n === 1 ? "" : "s") + " for “" + data.query + "” · " + Math.round(data.took_ms) + " ms");
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

  async function ask(question, push) {
    const params = new URLSearchParams({ q: question });
    outcome.setAttribute("aria-busy", "true");
    button.disabled = true;
    button.textContent = "Searching…";
    try {
      const response = await fetch(form.dataset.api + "?" + params, { headers: { Accept: "application/json" } });
      const data = await response.json();
      if (!response.ok) {
        showError(data.error ? data.error.message : "The search failed (" + response.status + ").");
      } else {
        render(data);
        document.title = question + " · Ask the documents";
        if (push) history.pushState({ q: question, data }, "", pageUrl + "?" + params);
        else history.replaceState({ q: question, data }, "");
      }
    } catch (e) {
      showError("The service could not be reached. Check your connection and try again.");
    } finally {
      outcome.removeAttribute("aria-busy");
      button.disabled = false;
      button.textContent = "Search";
    }
  }

  form.addEventListener("submit", (event) => {
    const question = input.value.trim();
    if (!question) return; // the browser's own validation explains an empty box
    event.preventDefault();
    ask(question, true);
  });

  outcome.addEventListener("click", (event) => {
    const link = event.target.closest(".examples a");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    input.value = link.textContent;
    ask(link.textContent, true);
  });

  window.addEventListener("popstate", (event) => {
    if (event.state && event.state.data) {
      input.value = event.state.q;
      render(event.state.data);
    } else {
      window.location.reload();
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
