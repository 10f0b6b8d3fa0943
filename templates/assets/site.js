// Progressive enhancement only: every page reads fine without this file.
// Each chart's figure is embedded as JSON (never executed, only parsed), and its static form, an SVG drawn at build
// time, stands in its box. Plotly, the bundle its data-bundle names, replaces it once the visitor has scrolled or
// touched the page and the chart is in view: fetched then, once a page (and, by its hashed name, once a browser).
// Not before: on a phone, a megabyte of script run while the page loads holds everything else up.
(function () {
  var plots = document.querySelectorAll("script.plot");
  if (!plots.length) { return; }
  var assets = document.currentScript.src.replace(/[^/]*$/, "");  // this file's folder: the bundles sit beside it
  var loading = {};
  var plotly = function (name) {
    if (!loading[name]) {
      loading[name] = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = assets + name;
        script.onload = function () { resolve(window.Plotly); };
        script.onerror = reject;
        document.head.appendChild(script);
      });
    }
    return loading[name];
  };
  var draw = function (node) {
    plotly(node.dataset.bundle).then(function (Plotly) {
      var figure = JSON.parse(node.textContent);
      if (window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches) { darken(figure.layout); }
      var target = document.getElementById(node.dataset.target);
      target.textContent = "";  // the static form gives way
      // topojsonURL: the map's land, from the site's own assets (Plotly's default is a CDN).
      Plotly.newPlot(target, figure.data, figure.layout,
        { displaylogo: false, responsive: true, topojsonURL: assets + node.dataset.topojson }).then(function () {
        if (figure.data.some(function (trace) { return trace.type === "scattergeo"; })) { focusable(Plotly, target, figure); }
      });
    });
  };
  // Dark mode: Plotly's own colours are dark grey text and white grid lines, unreadable on the page's dark paper.
  // Text in the page's ink (far above 4.5:1 on it), grid lines faint, the map's land a shade above the paper.
  var darken = function (layout) {
    var ink = "#e6edf3", grid = "#3d444d";
    layout.font = Object.assign({}, layout.font, { color: ink });
    if (layout.title) { layout.title.font = Object.assign({}, layout.title.font, { color: ink }); }
    Object.keys(layout).concat(["xaxis", "yaxis"]).forEach(function (key) {
      if (/^[xy]axis[0-9]*$/.test(key)) {
        layout[key] = Object.assign({}, layout[key], { gridcolor: grid, zerolinecolor: grid, linecolor: grid, color: ink });
      }
    });
    if (layout.geo) {
      Object.assign(layout.geo, { landcolor: "#2d333b", coastlinecolor: "#768390", countrycolor: "#545d68", subunitcolor: "#444c56" });
    }
    layout.hoverlabel = { font: { color: "#0d1117" }, bgcolor: "#e6edf3" };
  };
  // The map's dots, reachable by keyboard: each named (city and status) and, focused, showing the tooltip a
  // pointer would. The box becomes a group of named dots rather than one picture.
  var focusable = function (Plotly, target, figure) {
    target.setAttribute("role", "group");
    target.querySelectorAll(".scattergeo").forEach(function (group, curve) {
      group.querySelectorAll(".point").forEach(function (dot, point) {
        var trace = figure.data[curve];
        dot.setAttribute("tabindex", "0");
        dot.setAttribute("role", "img");
        dot.setAttribute("aria-label", trace.text[point] + ": " + trace.name);  // an attribute: never read as markup
        dot.addEventListener("focus", function () {
          Plotly.Fx.hover(target, [{ curveNumber: curve, pointNumber: point }], "geo");
        });
        dot.addEventListener("blur", function () { Plotly.Fx.unhover(target); });
      });
    });
  };
  var watch = function () {
    ["scroll", "pointerdown", "keydown", "touchstart"].forEach(function (kind) { window.removeEventListener(kind, watch); });
    if (!("IntersectionObserver" in window)) {
      plots.forEach(draw);
      return;
    }
    var byTarget = {};
    var seen = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) {
          seen.unobserve(entry.target);
          draw(byTarget[entry.target.id]);
        }
      });
    }, { rootMargin: "200px" });
    plots.forEach(function (node) {
      byTarget[node.dataset.target] = node;
      seen.observe(document.getElementById(node.dataset.target));
    });
  };
  ["scroll", "pointerdown", "keydown", "touchstart"].forEach(function (kind) {
    window.addEventListener(kind, watch, { passive: true });
  });
})();

// The league table: sort by a column heading, filter by country, platform and what an app needs.
var table = document.getElementById("league");
if (table) {
  var body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells;
  // Each group of rows (a tbody: the accuracy table keeps the unscored apart) sorts within itself;
  // a group's own heading row, one cell wide, stays on top.
  var sortGroups = function (compare) {
    Array.prototype.forEach.call(table.tBodies, function (group) {
      var rows = Array.prototype.filter.call(group.rows, function (row) { return row.cells.length === heads.length; });
      rows.sort(compare).forEach(function (row) { group.appendChild(row); });
    });
  };
  Array.prototype.forEach.call(heads, function (th, column) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = th.textContent;
    th.textContent = "";
    th.appendChild(button);
    th.setAttribute("aria-sort", "none");
    button.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      sortGroups(function (a, b) {
        var x = a.cells[column], y = b.cells[column];
        var sx = x.dataset.sort, sy = y.dataset.sort;
        // A figure that was not measured (data-sort="") goes last whichever way: never above a measured one.
        if (sx === "" || sy === "") { return (sx === "") - (sy === ""); }
        var order = (sx !== undefined && sy !== undefined) ? parseFloat(sx) - parseFloat(sy)
          : x.textContent.trim().localeCompare(y.textContent.trim());
        return ascending ? order : -order;
      });
    });
  });
  var form = document.querySelector("form.filters");
  if (form) {
    form.hidden = false;
    form.addEventListener("change", function () {
      var wanted = {};
      form.querySelectorAll("select").forEach(function (s) { wanted[s.dataset.filter] = s.value; });
      form.querySelectorAll("input[type=checkbox]").forEach(function (c) { wanted[c.dataset.filter] = c.checked ? c.value : ""; });
      Array.prototype.forEach.call(body.rows, function (row) {
        row.hidden = Object.keys(wanted).some(function (k) { return wanted[k] && row.dataset[k] !== wanted[k]; });
      });
    });
  }
}
