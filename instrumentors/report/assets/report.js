// The trace report: a waterfall per trace, the SLI table, a span's details on click.
// Every value from the data is written with textContent, never as markup.
(function () {
  "use strict";
  var started = performance.now();
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var F = {};
  data.fields.forEach(function (name, i) { F[name] = i; });
  var keys = data.keys;
  var keyIndex = {};
  keys.forEach(function (key, i) { keyIndex[key] = i; });
  var CATEGORIES = [
    ["agent", "agent run"], ["step", "step"], ["model", "model call"], ["embed", "embeddings"],
    ["tool", "tool"], ["retrieval", "retrieval"], ["client", "HTTP / DB / RPC"],
    ["messaging", "job / message"], ["server", "server"], ["other", "other"], ["error", "error"]
  ];
  var BY_OPERATION = {
    chat: "model", text_completion: "model", generate_content: "model", embeddings: "embed",
    execute_tool: "tool", invoke_agent: "agent", create_agent: "agent", agent_step: "step",
    retrieval: "retrieval"
  };
  var BY_KIND = { client: "client", producer: "messaging", consumer: "messaging", server: "server" };
  // Roll-ups (agent.cost.total) first: they include the children's cost.
  var COST_KEYS = ["agent.cost.total", "gen_ai.usage.cost.amount"];
  var rendered = {};
  var selected = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function duration(us) {
    var s = us / 1e6;
    if (s >= 1) return s.toFixed(2) + " s";
    if (s >= 0.001) return (s * 1000).toFixed(1) + " ms";
    return Math.round(s * 1e6) + " µs";
  }

  function attr(pairs, key) {
    var k = keyIndex[key];
    if (k === undefined) return undefined;
    for (var i = 0; i < pairs.length; i += 2) if (pairs[i] === k) return pairs[i + 1];
    return undefined;
  }

  function show(value) {
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function category(span) {
    if (span[F.error]) return "error";
    var op = attr(span[F.attributes], "gen_ai.operation.name");
    return BY_OPERATION[op] || BY_KIND[span[F.kind]] || "other";
  }

  function cost(span) {
    var pairs = span[F.attributes];
    for (var i = 0; i < COST_KEYS.length; i++) {
      var value = attr(pairs, COST_KEYS[i]);
      if (typeof value === "number") return [value, attr(pairs, "gen_ai.usage.cost.currency")];
    }
    return null;
  }

  function money(amount, currency) {
    var text = amount >= 1 ? amount.toFixed(2) : amount.toPrecision(2);
    return !currency || currency === "USD" ? "$" + text : text + " " + currency;
  }

  function traceCost(trace) {
    var total = 0, found = false, currency;
    trace.spans.forEach(function (span) {
      var pairs = span[F.attributes];
      // Model calls only: roll-ups would count them twice.
      var value = attr(pairs, "gen_ai.usage.cost.amount");
      if (typeof value === "number" && attr(pairs, "agent.cost.total") === undefined) {
        total += value; found = true;
        currency = currency || attr(pairs, "gen_ai.usage.cost.currency");
      }
    });
    return found ? money(total, currency) : null;
  }

  function header() {
    document.getElementById("title").textContent = data.title;
    var parts = [
      data.traces.length + (data.traces.length === 1 ? " trace" : " traces"),
      data.spanCount + (data.spanCount === 1 ? " span" : " spans"),
      data.errorCount + (data.errorCount === 1 ? " error" : " errors")
    ];
    var services = data.services.filter(function (s) { return s; });
    if (services.length) parts.push("service " + services.join(", "));
    parts.push(data.content ? "content capture on" : "no raw content");
    parts.push("written " + data.generated + " by agent-instrumentors " + data.version);
    document.getElementById("summary").textContent = parts.join(" · ");
    var notes = document.getElementById("notes");
    data.notes.forEach(function (note) { notes.appendChild(el("li", "", note)); });
    var legend = document.getElementById("legend");
    CATEGORIES.forEach(function (entry) {
      var chip = el("span", "chip");
      var swatch = el("i", "bar swatch " + entry[0]);
      chip.appendChild(swatch);
      chip.appendChild(document.createTextNode(entry[1]));
      legend.appendChild(chip);
    });
  }

  function sliTable() {
    if (!data.sli) return;
    document.getElementById("sli-section").hidden = false;
    var table = document.getElementById("sli");
    var head = el("tr");
    data.sli.headers.forEach(function (h) { head.appendChild(el("th", "", h)); });
    table.appendChild(head);
    data.sli.rows.forEach(function (row) {
      var tr = el("tr");
      row.forEach(function (cell) {
        var cls = cell.indexOf("MISSED") >= 0 ? "missed" : (/^n</.test(cell) ? "muted" : "");
        tr.appendChild(el("td", cls, cell));
      });
      table.appendChild(tr);
    });
  }

  function niceStep(total) {
    var rough = total / 5;
    if (!(rough > 0)) return 1;
    var power = Math.pow(10, Math.floor(Math.log10(rough)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * power >= rough) return steps[i] * power;
    return 10 * power;
  }

  function percent(value, total) {
    return total > 0 ? Math.min(Math.max(value / total * 100, 0), 100) : 0;
  }

  function axis(trace) {
    var row = el("div", "axis");
    row.appendChild(el("div", "label"));
    var lane = el("div", "lane");
    var step = niceStep(trace.duration);
    for (var t = 0; t <= trace.duration + 1e-9 && step > 0; t += step) {
      var tick = el("span", "tick", duration(t));
      tick.style.left = percent(t, trace.duration) + "%";
      lane.appendChild(tick);
    }
    row.appendChild(lane);
    return row;
  }

  function spanRow(trace, ti, si) {
    var span = trace.spans[si];
    var row = el("div", "row");
    row.dataset.trace = ti;
    row.dataset.span = si;
    row.dataset.depth = span[F.depth];
    row.tabIndex = 0;
    row.setAttribute("role", "button");
    var label = el("div", "label");
    label.style.paddingLeft = 4 + span[F.depth] * 14 + "px";
    var next = trace.spans[si + 1];
    var parent = next && next[F.depth] > span[F.depth];
    label.appendChild(el("span", "twisty", parent ? "▾" : ""));
    label.appendChild(el("span", "name", span[F.name]));
    label.appendChild(el("span", "dur", duration(span[F.duration])));
    if (span[F.error]) {
      label.appendChild(el("span", "err", attr(span[F.attributes], "error.type") || "error"));
    }
    var spent = cost(span);
    if (spent) label.appendChild(el("span", "cost", money(spent[0], spent[1])));
    label.title = span[F.name];
    row.appendChild(label);
    var lane = el("div", "lane");
    var bar = el("div", "bar " + category(span));
    bar.style.left = percent(span[F.start], trace.duration) + "%";
    bar.style.width = percent(span[F.duration], trace.duration) + "%";
    lane.appendChild(bar);
    span[F.events].forEach(function (event) {
      var mark = el("div", event[0] === "exception" ? "mark exception" : "mark");
      mark.style.left = percent(event[1], trace.duration) + "%";
      mark.title = event[0] + " at " + duration(event[1]);
      lane.appendChild(mark);
    });
    row.appendChild(lane);
    return row;
  }

  // Rows go in chunks the browser lays out only when they scroll into view
  // (content-visibility): 5,000 spans open as fast as 50.
  var CHUNK = 50;

  function waterfall(details, trace, ti) {
    if (rendered[ti]) return;
    var box = el("div", "wf");
    box.appendChild(axis(trace));
    var rows = [];
    var chunk = null;
    for (var si = 0; si < trace.spans.length; si++) {
      if (si % CHUNK === 0) {
        chunk = el("div", "chunk");
        chunk.style.containIntrinsicSize = "auto " + Math.min(CHUNK, trace.spans.length - si) * 22 + "px";
        box.appendChild(chunk);
      }
      var row = spanRow(trace, ti, si);
      rows.push(row);
      chunk.appendChild(row);
    }
    rendered[ti] = rows;
    details.appendChild(box);
  }

  function traces() {
    var holder = document.getElementById("traces");
    var openAll = data.spanCount <= 3000;
    data.traces.forEach(function (trace, ti) {
      var details = el("details", "trace");
      details.id = "trace-" + trace.id;
      var summary = el("summary");
      var roots = trace.spans.filter(function (s) { return s[F.depth] === 0; });
      summary.appendChild(el("span", "root", roots.length ? roots[0][F.name] : trace.id));
      var errors = trace.spans.filter(function (s) { return s[F.error]; }).length;
      summary.appendChild(el("span", "meta", duration(trace.duration) + " · " +
        trace.spans.length + (trace.spans.length === 1 ? " span" : " spans") +
        " · trace " + trace.id));
      if (errors) summary.appendChild(el("span", "errors", errors + (errors === 1 ? " error" : " errors")));
      var total = traceCost(trace);
      if (total) summary.appendChild(el("span", "cost", total));
      details.appendChild(summary);
      details.addEventListener("toggle", function () {
        if (details.open) waterfall(details, trace, ti);
      });
      if (openAll || ti === 0) {
        details.open = true;
        waterfall(details, trace, ti);
      }
      holder.appendChild(details);
    });
  }

  function kvTable(pairs) {
    var table = el("table", "kv");
    var items = [];
    for (var i = 0; i < pairs.length; i += 2) items.push([keys[pairs[i]], pairs[i + 1]]);
    items.sort(function (a, b) { return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0; });
    items.forEach(function (item) {
      var tr = el("tr");
      tr.appendChild(el("td", "", item[0]));
      tr.appendChild(el("td", "", show(item[1])));
      table.appendChild(tr);
    });
    return table;
  }

  function findSpan(traceId, spanId) {
    for (var ti = 0; ti < data.traces.length; ti++) {
      if (data.traces[ti].id !== traceId) continue;
      var spans = data.traces[ti].spans;
      for (var si = 0; si < spans.length; si++) if (spans[si][F.id] === spanId) return [ti, si];
    }
    return null;
  }

  function detail(ti, si) {
    var trace = data.traces[ti];
    var span = trace.spans[si];
    var panel = document.getElementById("detail");
    panel.textContent = "";
    var close = el("button", "close", "×");
    close.title = "close (Esc)";
    close.addEventListener("click", closeDetail);
    panel.appendChild(close);
    panel.appendChild(el("h3", "", span[F.name]));
    var facts = [
      ["status", span[F.error] ? "ERROR" + (span[F.status] ? ": " + span[F.status] : "") : "ok"],
      ["duration", duration(span[F.duration])],
      ["starts at", "+" + duration(span[F.start]) + " in the trace"],
      ["kind", span[F.kind]],
      ["service", data.services[span[F.service]] || ""],
      ["scope", span[F.scope]],
      ["trace id", trace.id],
      ["span id", span[F.id]],
      ["parent id", span[F.parent] + (span[F.orphan] ? " (not in this report)" : "")]
    ];
    var table = el("table", "kv");
    facts.forEach(function (fact) {
      var tr = el("tr");
      tr.appendChild(el("td", "", fact[0]));
      tr.appendChild(el("td", fact[0] === "status" && span[F.error] ? "status-error" : "", fact[1]));
      table.appendChild(tr);
    });
    panel.appendChild(table);
    panel.appendChild(el("h4", "", "Attributes"));
    panel.appendChild(kvTable(span[F.attributes]));
    if (span[F.events].length) {
      panel.appendChild(el("h4", "", "Events"));
      span[F.events].forEach(function (event) {
        var box = el("div", "event");
        box.appendChild(el("strong", "", event[0]));
        box.appendChild(el("span", "when", "+" + duration(event[1])));
        box.appendChild(kvTable(event[2]));
        panel.appendChild(box);
      });
    }
    if (span[F.links].length) {
      panel.appendChild(el("h4", "", "Links"));
      span[F.links].forEach(function (link) {
        var line = el("div", "event");
        var target = findSpan(link[0], link[1]);
        if (target) {
          var go = el("button", "link", data.traces[target[0]].spans[target[1]][F.name]);
          go.addEventListener("click", function () { select(target[0], target[1], true); });
          line.appendChild(go);
        } else {
          line.textContent = "trace " + link[0] + " span " + link[1] + " (not in this report)";
        }
        panel.appendChild(line);
      });
    }
    panel.hidden = false;
    document.body.classList.add("with-detail");
  }

  function closeDetail() {
    document.getElementById("detail").hidden = true;
    document.body.classList.remove("with-detail");
    if (selected) selected.classList.remove("selected");
    selected = null;
  }

  function select(ti, si, scroll) {
    var details = document.getElementById("trace-" + data.traces[ti].id);
    if (!details.open) details.open = true;
    waterfall(details, data.traces[ti], ti);
    var row = rendered[ti][si];
    if (selected) selected.classList.remove("selected");
    selected = row;
    if (row) {
      row.classList.add("selected");
      if (scroll) row.scrollIntoView({ block: "center" });
    }
    detail(ti, si);
  }

  function toggle(row) {
    var collapsed = row.classList.toggle("collapsed");
    row.querySelector(".twisty").textContent = collapsed ? "▸" : "▾";
    var rows = rendered[Number(row.dataset.trace)];
    var depth = Number(row.dataset.depth);
    var hideBelow = Infinity;
    // Walk the subtree: hide it, keeping inner collapsed subtrees collapsed on expand.
    for (var i = Number(row.dataset.span) + 1; i < rows.length; i++) {
      var next = rows[i];
      var d = Number(next.dataset.depth);
      if (d <= depth) break;
      if (d > hideBelow) continue;
      hideBelow = Infinity;
      next.classList.toggle("hidden", collapsed);
      if (!collapsed && next.classList.contains("collapsed")) hideBelow = d;
    }
  }

  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest(".row");
    if (!row) return;
    if (event.target.classList.contains("twisty") && event.target.textContent) {
      toggle(row);
      return;
    }
    select(Number(row.dataset.trace), Number(row.dataset.span), false);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeDetail();
    var row = event.target.closest && event.target.closest(".row");
    if (row && event.key === "Enter") select(Number(row.dataset.trace), Number(row.dataset.span), false);
  });

  header();
  sliTable();
  traces();
  document.body.dataset.renderMs = (performance.now() - started).toFixed(1);
  document.body.dataset.ready = "1";
})();
