/*
 * A small, safe Markdown renderer for the chat test UI: fenced code, tables, lists, headings, quotes, rules,
 * and inline code/bold/italic/strike/links. All text is HTML-escaped before any markup is added, and links
 * keep only http(s) and mailto targets, so model output can never inject HTML or script.
 * An unclosed code fence renders as code to the end, which is what a half-streamed answer needs.
 */
(function (root) {
  "use strict";

  function escapeHtml(text) {
    return text
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  }

  function safeHref(raw) {
    var href = raw.trim();
    return /^(https?:\/\/|mailto:)/i.test(href) ? href : null;
  }

  // Inline markup on one already-escaped line; code spans are cut out first so nothing inside them changes.
  function inline(escaped) {
    var spans = [];
    var text = escaped.replace(/`([^`]+)`/g, function (_, code) {
      spans.push("<code>" + code + "</code>");
      return "\u0000" + (spans.length - 1) + "\u0000";
    });
    text = text
      .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, function (whole, label, target) {
        // The target was escaped with the rest of the line; undo &amp; only, for query strings.
        var href = safeHref(target.replace(/&amp;/g, "&"));
        if (!href) return label;
        return '<a href="' + escapeHtml(href) + '" target="_blank" rel="noopener noreferrer">' + label + "</a>";
      })
      .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
      .replace(/__([^_]+)__/g, "<strong>$1</strong>")
      .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>")
      .replace(/(^|[^\w])_([^_\s][^_]*)_(?!\w)/g, "$1<em>$2</em>")
      .replace(/~~([^~]+)~~/g, "<del>$1</del>");
    return text.replace(/\u0000(\d+)\u0000/g, function (_, i) {
      return spans[Number(i)];
    });
  }

  function splitRow(line) {
    var row = line.trim();
    if (row.charAt(0) === "|") row = row.slice(1);
    if (row.charAt(row.length - 1) === "|") row = row.slice(0, -1);
    return row.split("|").map(function (cell) {
      return cell.trim();
    });
  }

  var TABLE_RULE = /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/;
  var LIST_ITEM = /^(\s*)([-*+]|\d+[.)])\s+(.*)$/;

  function renderTable(lines) {
    var aligns = splitRow(lines[1]).map(function (cell) {
      var left = cell.charAt(0) === ":";
      var right = cell.charAt(cell.length - 1) === ":";
      return left && right ? "center" : right ? "right" : left ? "left" : "";
    });
    function cells(line, tag) {
      return splitRow(line)
        .map(function (cell, i) {
          var align = aligns[i] ? ' style="text-align:' + aligns[i] + '"' : "";
          return "<" + tag + align + ">" + inline(cell) + "</" + tag + ">";
        })
        .join("");
    }
    var body = lines.slice(2).map(function (line) {
      return "<tr>" + cells(line, "td") + "</tr>";
    });
    return (
      "<table><thead><tr>" + cells(lines[0], "th") + "</tr></thead><tbody>" + body.join("") + "</tbody></table>"
    );
  }

  // Lists nest by indentation: a deeper item opens a child list inside the previous item.
  function renderList(lines) {
    var html = "";
    var stack = [];
    lines.forEach(function (line) {
      var m = LIST_ITEM.exec(line);
      if (!m) {
        html += " " + inline(line.trim());
        return;
      }
      var indent = m[1].replace(/\t/g, "    ").length;
      var tag = /\d/.test(m[2]) ? "ol" : "ul";
      while (stack.length && indent < stack[stack.length - 1].indent) {
        html += "</li></" + stack.pop().tag + ">";
      }
      var top = stack[stack.length - 1];
      if (top && indent === top.indent && top.tag !== tag) {
        // "- a" followed by "1. b" at the same depth: the bulleted list ends, a numbered one starts.
        html += "</li></" + stack.pop().tag + ">";
        top = stack[stack.length - 1];
      }
      if (!top || indent > top.indent) {
        stack.push({ indent: indent, tag: tag });
        html += "<" + tag + ">";
      } else {
        html += "</li>";
      }
      html += "<li>" + inline(m[3]);
    });
    while (stack.length) html += "</li></" + stack.pop().tag + ">";
    return html;
  }

  function render(source) {
    var lines = escapeHtml(String(source).replace(/\r\n?/g, "\n")).split("\n");
    var out = [];
    var i = 0;
    while (i < lines.length) {
      var line = lines[i];
      var fence = /^\s*(```+|~~~+)\s*([\w+#.-]*)\s*$/.exec(line);
      if (fence) {
        var code = [];
        i += 1;
        while (i < lines.length && lines[i].trim().indexOf(fence[1]) !== 0) code.push(lines[i++]);
        i += 1; // the closing fence (or the end of a half-streamed answer)
        var cls = fence[2] ? ' class="language-' + fence[2] + '"' : "";
        out.push("<pre><code" + cls + ">" + code.join("\n") + "</code></pre>");
        continue;
      }
      if (!line.trim()) {
        i += 1;
        continue;
      }
      var heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
      if (heading) {
        var level = heading[1].length;
        out.push("<h" + level + ">" + inline(heading[2]) + "</h" + level + ">");
        i += 1;
        continue;
      }
      if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
        out.push("<hr>");
        i += 1;
        continue;
      }
      if (line.indexOf("|") !== -1 && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1])) {
        var rows = [line, lines[i + 1]];
        i += 2;
        while (i < lines.length && lines[i].indexOf("|") !== -1 && lines[i].trim()) rows.push(lines[i++]);
        out.push(renderTable(rows));
        continue;
      }
      if (/^\s*&gt;/.test(line)) {
        var quoted = [];
        while (i < lines.length && /^\s*&gt;/.test(lines[i])) quoted.push(lines[i++].replace(/^\s*&gt;\s?/, ""));
        out.push("<blockquote>" + render(unescapeForNesting(quoted.join("\n"))) + "</blockquote>");
        continue;
      }
      if (LIST_ITEM.test(line)) {
        var items = [];
        while (i < lines.length && lines[i].trim() && (LIST_ITEM.test(lines[i]) || /^\s+\S/.test(lines[i]))) {
          items.push(lines[i++]);
        }
        out.push(renderList(items));
        continue;
      }
      var para = [];
      while (
        i < lines.length &&
        lines[i].trim() &&
        !/^\s*(```|~~~|#{1,6}\s|&gt;)/.test(lines[i]) &&
        !LIST_ITEM.test(lines[i])
      ) {
        para.push(inline(lines[i++]));
      }
      if (!para.length) para.push(inline(lines[i++]));
      out.push("<p>" + para.join("<br>") + "</p>");
    }
    return out.join("\n");
  }

  // A quote's body is rendered again as Markdown; undo the escaping so it is not escaped twice.
  function unescapeForNesting(text) {
    return text
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, "&");
  }

  var api = { render: render, escapeHtml: escapeHtml };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.NovaMarkdown = api;
})(this);
