// The findings table: filters, sorting, search and pages over the data embedded in the page
// (layout: auditor/report/findings_table.py). Only one page of rows is in the DOM at a time,
// so a run of 100,000 findings opens as fast as one of 100.
//
// Every string in the data comes from the cloud and may hold markup: it reaches the page only
// through textContent and setAttribute, never through markup parsing of any kind.
(function () {
  "use strict";

  // row fields (findings_table.py)
  const ID = 0, RULE = 1, SEV = 2, STATUS = 3, RES = 4, CLASS = 5, MSG = 6, EVID = 7,
    REMED = 8, LOC = 9, CHANGE = 10;
  // resource fields
  const R_ID = 0, R_TYPE = 1, R_NAME = 2, R_PROVIDER = 3, R_ACCOUNT = 4, R_REGION = 5,
    R_ALIASES = 6;
  const NO_CLASS = "(not classified)";
  const PRINT_LIMIT = 1000;
  const SEARCH_DELAY_MS = 150;

  const dataNode = document.getElementById("findings-data");
  const table = document.getElementById("findings-table");
  const form = document.getElementById("filters");
  const openedForPrint = [];

  function markReady(state) {
    document.documentElement.setAttribute("data-ready", state);
    if (window.performance && performance.mark) {
      performance.mark("report-ready");
    }
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function loadData(node) {
    const text = node.textContent;
    if (node.getAttribute("data-encoding") !== "gzip+base64") {
      return Promise.resolve(JSON.parse(text));
    }
    if (typeof DecompressionStream === "undefined") {
      return Promise.reject(new Error("this browser cannot inflate the embedded data " +
        "(no DecompressionStream); read findings.json instead"));
    }
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(function (json) { return JSON.parse(json); });
  }

  // Ranks of a table's entries in sorted order, so that rows sort on numbers.
  function ranks(values, keyOf) {
    const order = values.map(function (_, i) { return i; });
    order.sort(function (a, b) {
      const ka = keyOf(values[a]), kb = keyOf(values[b]);
      return ka < kb ? -1 : ka > kb ? 1 : a - b;
    });
    const rank = new Int32Array(values.length);
    order.forEach(function (index, position) { rank[index] = position; });
    return rank;
  }

  function start(data) {
    const rows = data.findings;
    const rules = data.rules, resources = data.resources, classes = data.classes;
    const tbody = table.tBodies[0];
    const status = document.getElementById("findings-status");
    const shown = document.getElementById("shown");
    const pager = document.getElementById("pager");
    const pageInfo = document.getElementById("page-info");
    const pageSize = document.getElementById("page-size");
    const printNote = document.getElementById("print-note");
    const search = document.getElementById("search");
    const headers = Array.from(table.querySelectorAll("th[data-sort]"));

    const classLabel = function (row) {
      return row[CLASS] < 0 ? NO_CLASS : classes[row[CLASS]][0];
    };
    const ruleRank = ranks(rules, function (r) { return r[0] + "\n" + r[1]; });
    const resourceRank = ranks(resources, function (r) { return r[R_NAME] + "\n" + r[R_ID]; });
    const accountRank = ranks(resources, function (r) {
      return r[R_PROVIDER] + "\n" + r[R_ACCOUNT] + "\n" + (r[R_REGION] || "");
    });
    const sortKeys = {
      severity: function (row) { return row[SEV]; },
      status: function (row) { return row[STATUS]; },
      rule: function (row) { return ruleRank[row[RULE]]; },
      resource: function (row) { return resourceRank[row[RES]]; },
      account: function (row) { return accountRank[row[RES]]; },
      classification: classLabel,
      message: function (row) { return row[MSG]; }
    };

    // What search reads, by the table a row points into: each distinct text is lower-cased
    // once, the first time anyone searches (-1, "none", reads as empty text).
    const searchable = [
      [function (row) { return row.index; }, function (row) {
        return [row[ID], row[MSG], data.severities[row[SEV]], data.statuses[row[STATUS]]]
          .join("\n");
      }],
      [function (row) { return row[RULE]; }, function (row) { return rules[row[RULE]].join("\n"); }],
      [function (row) { return row[RES]; }, function (row) {
        const r = resources[row[RES]];
        return [r[R_ID], r[R_TYPE], r[R_NAME], r[R_PROVIDER], r[R_ACCOUNT], r[R_REGION] || ""]
          .concat(r[R_ALIASES]).join("\n");
      }],
      [function (row) { return row[CLASS]; }, function (row) {
        return row[CLASS] < 0 ? "" : [classes[row[CLASS]][0]].concat(classes[row[CLASS]][1]).join("\n");
      }],
      [function (row) { return row[EVID]; }, function (row) {
        return row[EVID] < 0 ? "" : data.evidence[row[EVID]];
      }]
    ].map(function (pair) { return { key: pair[0], text: pair[1], cache: new Map() }; });

    function matchesText(row, needle) {
      return searchable.some(function (field) {
        const key = field.key(row);
        let text = field.cache.get(key);
        if (text === undefined) {
          text = field.text(row).toLowerCase();
          field.cache.set(key, text);
        }
        return text.indexOf(needle) >= 0;
      });
    }
    // a row's place in the engine's order: ties in a sort keep it, caches are keyed by it
    rows.forEach(function (row, index) { row.index = index; });

    let sortKey = null, sortDescending = false;
    let ordered = rows;  // rows in the chosen order
    let visible = rows;  // ordered rows that pass the filters
    let page = 0;

    function sortRows() {
      if (sortKey === null) {
        ordered = rows;
        return;
      }
      const key = sortKeys[sortKey];
      const direction = sortDescending ? -1 : 1;
      ordered = rows.slice().sort(function (a, b) {
        const ka = key(a), kb = key(b);
        if (ka < kb) { return -direction; }
        if (ka > kb) { return direction; }
        return a.index - b.index;  // ties keep the engine's order
      });
    }

    function chosen(name) {
      return new Set(Array.from(form.querySelectorAll("input[name=" + name + "]"))
        .filter(function (box) { return box.checked; })
        .map(function (box) { return box.value; }));
    }
    function selected(name) {
      const select = form.elements.namedItem(name);
      return select ? select.value : "";
    }

    function filterRows() {
      const severities = chosen("severity"), statuses = chosen("status");
      const provider = selected("provider"), account = selected("account");
      const rule = selected("rule"), classification = selected("classification");
      const change = selected("change");
      const needle = search.value.trim().toLowerCase();
      const sevOk = data.severities.map(function (s) { return severities.has(s); });
      const statusOk = data.statuses.map(function (s) { return statuses.has(s); });
      const ruleOk = rules.map(function (r) { return !rule || r[0] === rule; });
      const resOk = resources.map(function (r) {
        return (!provider || r[R_PROVIDER] === provider) && (!account || r[R_ACCOUNT] === account);
      });
      const changeOk = data.changes.map(function (c) { return !change || c === change; });
      visible = ordered.filter(function (row) {
        return sevOk[row[SEV]] && statusOk[row[STATUS]] && ruleOk[row[RULE]] &&
          resOk[row[RES]] && changeOk[row[CHANGE]] &&
          (!classification || classLabel(row) === classification) &&
          (!needle || matchesText(row, needle));
      });
      page = 0;
    }

    function block(parent, label, value) {
      parent.appendChild(el("p", "detail-label", label));
      parent.appendChild(el("pre", null,
        typeof value === "string" ? value : JSON.stringify(value, null, 2)));
    }

    // Evidence and remediation get a row of their own, the table's full width, shown on demand
    // on screen and always on paper.
    function detailRow(row) {
      const box = el("td", "detail");
      box.colSpan = headers.length + 1;
      if (row[EVID] >= 0) {
        block(box, "Evidence", JSON.parse(data.evidence[row[EVID]]));
      } else {
        box.appendChild(el("p", "detail-label", "No evidence recorded."));
      }
      if (row[REMED] >= 0) {
        const remediation = data.remediation[row[REMED]];
        Object.keys(remediation).sort().forEach(function (key) {
          block(box, "Remediation (" + key + ")", remediation[key]);
        });
      }
      if (row[LOC]) {
        box.appendChild(el("p", "detail-label",
          "Location: " + row[LOC][0] + " lines " + row[LOC][1] + "\u2013" + row[LOC][2]));
      }
      if (row[CLASS] >= 0 && classes[row[CLASS]][1].length) {
        box.appendChild(el("p", "detail-label",
          "Classified because: " + classes[row[CLASS]][1].join("; ")));
      }
      const id = el("p", "finding-id", "finding ");
      id.appendChild(el("code", null, row[ID]));
      box.appendChild(id);
      const tr = el("tr", "detail");
      tr.setAttribute("data-detail-of", row[ID]);
      tr.hidden = true;
      tr.appendChild(box);
      return tr;
    }

    function renderRow(row) {
      const rule = rules[row[RULE]], resource = resources[row[RES]];
      const severity = data.severities[row[SEV]];
      const tr = el("tr");
      tr.setAttribute("data-finding", row[ID]);
      tr.setAttribute("data-severity", severity);
      tr.setAttribute("data-status", data.statuses[row[STATUS]]);
      tr.setAttribute("data-rule", rule[0]);

      const sevCell = el("td");
      sevCell.appendChild(el("span", "sev sev-" + severity, severity));
      const change = data.changes[row[CHANGE]];
      if (change === "new") {
        sevCell.appendChild(el("span", "badge new", "new"));
      }
      tr.appendChild(sevCell);
      tr.appendChild(el("td", null, data.statuses[row[STATUS]]));

      const ruleCell = el("td");
      ruleCell.appendChild(el("code", null, rule[0]));
      ruleCell.appendChild(el("br"));
      ruleCell.appendChild(document.createTextNode(rule[1]));
      tr.appendChild(ruleCell);

      const resCell = el("td");
      resCell.appendChild(el("span", "res-name", resource[R_NAME]));
      resCell.appendChild(el("code", "res-id", resource[R_ID]));
      if (resource[R_ALIASES].length) {
        resCell.appendChild(el("span", "res-aliases", resource[R_ALIASES].join(", ")));
      }
      tr.appendChild(resCell);

      const accountCell = el("td");
      accountCell.appendChild(el("code", "account", resource[R_ACCOUNT]));
      accountCell.appendChild(el("span", "region", [resource[R_PROVIDER], resource[R_REGION]]
        .filter(Boolean).join(" \u00b7 ")));
      tr.appendChild(accountCell);
      tr.appendChild(el("td", null, row[CLASS] < 0 ? "" : classes[row[CLASS]][0]));
      tr.appendChild(el("td", null, row[MSG]));
      const toggleCell = el("td");
      const toggle = el("button", "toggle", "evidence");
      toggle.type = "button";
      toggle.setAttribute("aria-expanded", "false");
      toggleCell.appendChild(toggle);
      tr.appendChild(toggleCell);
      return tr;
    }

    function renderRows(list) {
      const fragment = document.createDocumentFragment();
      list.forEach(function (row) {
        fragment.appendChild(renderRow(row));
        fragment.appendChild(detailRow(row));
      });
      if (!list.length) {
        const empty = el("td", "empty", "No finding matches the filters.");
        empty.colSpan = headers.length + 1;
        fragment.appendChild(el("tr")).appendChild(empty);
      }
      tbody.replaceChildren(fragment);
    }

    function pages() {
      return Math.max(1, Math.ceil(visible.length / Number(pageSize.value)));
    }

    function render() {
      const size = Number(pageSize.value);
      page = Math.min(Math.max(page, 0), pages() - 1);
      const first = page * size;
      const last = Math.min(first + size, visible.length);
      renderRows(visible.slice(first, last));
      shown.textContent = String(visible.length);
      pageInfo.textContent = visible.length
        ? "rows " + (first + 1) + "\u2013" + last + " of " + visible.length +
          " (page " + (page + 1) + " of " + pages() + ")"
        : "no rows";
      pager.querySelector("[data-page=first]").disabled = page === 0;
      pager.querySelector("[data-page=prev]").disabled = page === 0;
      pager.querySelector("[data-page=next]").disabled = page >= pages() - 1;
      pager.querySelector("[data-page=last]").disabled = page >= pages() - 1;
    }

    function apply() {
      filterRows();
      render();
    }

    function sortBy(header) {
      const key = header.getAttribute("data-sort");
      if (sortKey === key && !sortDescending) {
        sortDescending = true;
      } else if (sortKey === key) {
        sortKey = null;  // third click: back to the engine's order
      } else {
        sortKey = key;
        sortDescending = false;
      }
      headers.forEach(function (th) {
        const state = th === header && sortKey !== null
          ? (sortDescending ? "descending" : "ascending") : "none";
        th.setAttribute("aria-sort", state);
      });
      sortRows();
      apply();
    }

    function filterFromLink(event) {
      const link = event.target.closest("[data-filter-rule], [data-filter-change]");
      if (!link) {
        return;
      }
      form.reset();
      const rule = link.getAttribute("data-filter-rule");
      const change = link.getAttribute("data-filter-change");
      if (rule !== null) {
        form.elements.namedItem("rule").value = rule;
      }
      if (change !== null && form.elements.namedItem("change")) {
        form.elements.namedItem("change").value = change;
      }
      apply();
    }

    // checkboxes and selects apply when changed; the search box while typing, after a pause
    let searchTimer = null;
    form.addEventListener("change", function (event) {
      if (event.target !== search) {
        apply();
      }
    });
    form.addEventListener("input", function (event) {
      if (event.target === search) {
        window.clearTimeout(searchTimer);
        searchTimer = window.setTimeout(apply, SEARCH_DELAY_MS);
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      window.clearTimeout(searchTimer);
      apply();
    });
    // the reset event comes before the controls are reset
    form.addEventListener("reset", function () { window.setTimeout(apply, 0); });
    headers.forEach(function (th) {
      th.querySelector("button").addEventListener("click", function () { sortBy(th); });
    });
    pager.addEventListener("click", function (event) {
      const button = event.target.closest("button[data-page]");
      if (!button) {
        return;
      }
      const move = button.getAttribute("data-page");
      page = move === "first" ? 0 : move === "prev" ? page - 1 : move === "next" ? page + 1
        : pages() - 1;
      render();
    });
    tbody.addEventListener("click", function (event) {
      const toggle = event.target.closest("button.toggle");
      if (!toggle) {
        return;
      }
      const detail = toggle.closest("tr").nextElementSibling;
      detail.hidden = !detail.hidden;
      toggle.setAttribute("aria-expanded", String(!detail.hidden));
    });
    pageSize.addEventListener("change", function () {
      page = 0;
      render();
    });
    document.addEventListener("click", filterFromLink);

    // A printout carries the rows that match the filters (up to PRINT_LIMIT), not one page.
    window.addEventListener("beforeprint", function () {
      renderRows(visible.slice(0, PRINT_LIMIT));
      printNote.textContent = visible.length > PRINT_LIMIT
        ? "Printed: the first " + PRINT_LIMIT + " of " + visible.length +
          " findings that match the filters. Every finding is in findings.json."
        : "Printed: the " + visible.length + " findings that match the filters.";
      printNote.hidden = false;
      openDetails();
    });
    window.addEventListener("afterprint", function () {
      printNote.hidden = true;
      render();
    });

    form.hidden = false;
    pager.hidden = false;
    status.hidden = false;
    apply();
    markReady("true");
  }

  // evidence folded away on screen must be on paper
  function openDetails() {
    document.querySelectorAll("details:not([open])").forEach(function (node) {
      node.open = true;
      openedForPrint.push(node);
    });
  }
  window.addEventListener("beforeprint", function () {
    if (!table) {
      openDetails();
    }
  });
  window.addEventListener("afterprint", function () {
    openedForPrint.splice(0).forEach(function (node) { node.open = false; });
  });

  if (!dataNode || !table || !form) {
    markReady("true");
    return;
  }
  loadData(dataNode).then(start).catch(function (error) {
    const status = document.getElementById("findings-status");
    status.textContent = "The findings could not be shown: " + error.message;
    status.hidden = false;
    markReady("error");
  });
})();
