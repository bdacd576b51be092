// Filters the findings table. Reads data only from the JSON block and never builds markup
// from it: the only DOM writes are the hidden flag, details.open and textContent.
(function () {
  "use strict";
  const form = document.getElementById("filters");
  const table = document.getElementById("findings-table");
  const dataNode = document.getElementById("report-data");
  const beforePrintClosed = [];

  // a printout must carry the evidence that is folded away on screen
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details:not([open])").forEach(function (node) {
      node.open = true;
      beforePrintClosed.push(node);
    });
  });
  window.addEventListener("afterprint", function () {
    beforePrintClosed.splice(0).forEach(function (node) { node.open = false; });
  });

  if (!form || !table || !dataNode) {
    return;
  }
  const searchText = JSON.parse(dataNode.textContent).search;
  const rows = Array.from(table.querySelectorAll("tbody tr[data-finding]"));
  const boxes = Array.from(form.querySelectorAll("input[name=severity]"));
  const search = document.getElementById("search");
  const shown = document.getElementById("shown");

  function apply() {
    const wanted = new Set(boxes.filter(function (b) { return b.checked; })
      .map(function (b) { return b.value; }));
    const needle = search.value.trim().toLowerCase();
    let count = 0;
    rows.forEach(function (row) {
      const text = searchText[row.dataset.finding] || "";
      const visible = wanted.has(row.dataset.severity) && (!needle || text.includes(needle));
      row.hidden = !visible;
      if (visible) {
        count += 1;
      }
    });
    shown.textContent = String(count);
  }

  form.addEventListener("input", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  form.hidden = false;
  apply();
})();
