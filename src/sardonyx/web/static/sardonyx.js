// Sardonyx web UI: the few behaviours htmx does not cover (copy buttons, password reveal, slider sync,
// hidden-field rules re-evaluated as values change, version switch, uploads with progress).
(function () {
  "use strict";

  // ------------------------------------------------------------------ copy to clipboard
  function copyText(text, button) {
    function done(ok) {
      if (!button) return;
      var label = button.getAttribute("data-label") || button.textContent;
      button.setAttribute("data-label", label);
      button.textContent = ok ? "Copied" : "Select and copy";
      button.classList.toggle("copy-ok", ok);
      setTimeout(function () { button.textContent = label; button.classList.remove("copy-ok"); }, 1600);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallback(text)); });
    } else {
      done(fallback(text));
    }
  }
  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-from], [data-copy]");
    if (button) {
      var text = button.getAttribute("data-copy");
      if (text === null) {
        var source = document.getElementById(button.getAttribute("data-copy-from"));
        text = source ? (source.value !== undefined && source.tagName !== "PRE" ? source.value : source.textContent) : "";
        if (source && source.hasAttribute("data-clear")) text = source.getAttribute("data-clear");
      }
      copyText(text, button);
      return;
    }
    var revealText = event.target.closest("[data-reveal-text]");
    if (revealText) {
      var block = document.getElementById(revealText.getAttribute("data-reveal-text"));
      if (!block) return;
      var showing = revealText.getAttribute("aria-pressed") !== "true";
      block.textContent = block.getAttribute(showing ? "data-clear" : "data-masked");
      revealText.textContent = showing ? "Hide" : "Reveal";
      revealText.setAttribute("aria-pressed", showing ? "true" : "false");
      return;
    }
    var reveal = event.target.closest("[data-reveal]");
    if (reveal) {
      var input = document.getElementById(reveal.getAttribute("data-reveal"));
      if (!input) return;
      var shown = input.type === "password";
      input.type = shown ? "text" : "password";
      reveal.textContent = shown ? "Hide" : "Show";
      reveal.setAttribute("aria-pressed", shown ? "true" : "false");
      return;
    }
    var opener = event.target.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-open-dialog"));
      if (dialog && dialog.showModal) { dialog.showModal(); }
      return;
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      var parent = closer.closest("dialog");
      if (parent) parent.close();
    }
  });

  // ------------------------------------------------------------------ launcher form
  function fieldValue(form, path) {
    var input = form.querySelector('[name="f:' + CSS.escape(path) + '"]');
    var marker = form.querySelector('[name="c:' + CSS.escape(path) + '"]');
    if (!input && !marker) {
      var box = form.querySelector('[data-path="' + CSS.escape(path) + '"] input[type=checkbox]');
      if (box) return box.checked;
      return undefined;
    }
    if (input && input.type === "checkbox") return input.checked;
    if (!input && marker) return false;
    if (input.tagName === "SELECT") {
      var option = input.options[input.selectedIndex];
      if (!option || !option.hasAttribute("data-value")) return undefined;
      return JSON.parse(option.getAttribute("data-value"));
    }
    return input.value;
  }

  function sameValue(a, b) {
    if (typeof a === "boolean" || typeof b === "boolean") return a === b;
    if (typeof b === "number" && typeof a === "string" && a.trim() !== "") return Number(a) === b;
    return JSON.stringify(a) === JSON.stringify(b);
  }

  function applyHiddenRules(form) {
    form.querySelectorAll("[data-hide-when]").forEach(function (element) {
      var rule;
      try { rule = JSON.parse(element.getAttribute("data-hide-when")); } catch (e) { return; }
      var path = rule.path.map(function (part, i) {
        return /^\d+$/.test(part) && i > 0 ? "[" + part + "]" : (i > 0 ? "." : "") + part;
      }).join("");
      var value = fieldValue(form, path);
      element.hidden = value !== undefined && sameValue(value, rule.value);
    });
  }

  function initLauncher(root) {
    var form = root.querySelector ? root.querySelector("#launcher-form") : null;
    if (!form && root.id === "launcher-form") form = root;
    if (!form || form.getAttribute("data-ready")) return;
    form.setAttribute("data-ready", "1");
    form.addEventListener("input", function (event) {
      var target = event.target;
      if (target.matches("input[type=range][data-sync]")) {
        var number = document.getElementById(target.getAttribute("data-sync"));
        if (number) number.value = target.value;
      } else if (target.matches("[data-slider-number]")) {
        var range = form.querySelector('input[type=range][data-sync="' + CSS.escape(target.id) + '"]');
        if (range && target.value !== "" && !isNaN(Number(target.value))) range.value = target.value;
      }
      applyHiddenRules(form);
    });
    form.addEventListener("change", function (event) {
      if (event.target.matches("input[type=range][data-sync]")) {
        var number = document.getElementById(event.target.getAttribute("data-sync"));
        if (number) number.dispatchEvent(new Event("change", { bubbles: true }));
      }
      applyHiddenRules(form);
    });
    var version = form.querySelector("[data-navigate-version]");
    if (version) {
      version.addEventListener("change", function () {
        var url = version.getAttribute("data-navigate-version") + "?version=" + encodeURIComponent(version.value);
        var name = form.querySelector("[name=name]");
        if (name && name.value) url += "&name=" + encodeURIComponent(name.value);
        window.location.assign(url);
      });
    }
    // the range inputs are only a visual aid to the number inputs: keep them in step with the typed numbers
    form.querySelectorAll("[data-slider-number]").forEach(function (input) {
      var range = form.querySelector('input[type=range][data-sync="' + CSS.escape(input.id) + '"]');
      if (range) range.tabIndex = 0;
    });
    applyHiddenRules(form);
    var summary = document.getElementById("violations");
    if (summary) summary.focus();
  }

  document.addEventListener("DOMContentLoaded", function () { initLauncher(document); });
  document.addEventListener("htmx:load", function (event) { initLauncher(event.target); });

  // ------------------------------------------------------------------ my services
  function updateServices() {
    var grid = document.getElementById("services-grid");
    if (!grid) return;
    var count = grid.querySelectorAll(".service-card").length;
    var empty = document.getElementById("services-empty");
    if (empty) empty.hidden = count > 0;
    var all = document.getElementById("delete-all");
    if (all) all.disabled = count === 0;
  }
  function followLogs() {
    var logs = document.getElementById("log-lines");
    var follow = document.getElementById("follow-logs");
    if (logs && follow && follow.checked) logs.scrollTop = logs.scrollHeight;
  }
  document.addEventListener("htmx:sseMessage", function () { followLogs(); });
  document.addEventListener("htmx:afterSettle", function () { updateServices(); followLogs(); });
  document.addEventListener("DOMContentLoaded", function () {
    updateServices();
    // cards come and go through server-sent events: keep the empty notice and "delete all" in step
    var live = document.getElementById("services-live");
    if (live && window.MutationObserver) {
      new MutationObserver(updateServices).observe(live, { childList: true, subtree: true });
    }
  });

  // ------------------------------------------------------------------ my files: uploads with progress
  function uploadRow(container, key) {
    var row = document.createElement("div");
    row.className = "upload-row";
    var name = document.createElement("span");
    name.textContent = key;
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Upload of " + key);
    var state = document.createElement("span");
    state.className = "small";
    row.appendChild(name);
    row.appendChild(bar);
    row.appendChild(state);
    container.appendChild(row);
    return { row: row, bar: bar, state: state };
  }

  function refreshListing() {
    if (window.htmx) {
      // the table and the count below it
      window.htmx.ajax("GET", window.location.href, { target: "#file-listing", select: "#file-listing", swap: "outerHTML" });
    }
  }

  function uploadOne(file, key, ui, overwrite) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      var cancel = document.createElement("button");
      cancel.type = "button";
      cancel.className = "btn btn-small";
      cancel.textContent = "Cancel";
      cancel.addEventListener("click", function () { xhr.abort(); });
      ui.state.textContent = "";
      ui.state.appendChild(cancel);
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) ui.bar.value = Math.round((event.loaded / event.total) * 100);
      });
      function failed(message) {
        ui.state.textContent = message + " ";
        ui.row.setAttribute("data-upload", "failed");
        var retry = document.createElement("button");
        retry.type = "button";
        retry.className = "btn btn-small";
        retry.textContent = "Retry";
        retry.addEventListener("click", function () { uploadOne(file, key, ui, overwrite).then(function (ok) { if (ok) refreshListing(); }); });
        ui.state.appendChild(retry);
        resolve(false);
      }
      function kept(message) {
        // the file exists (it appeared after the page asked): the user may still replace it
        ui.state.textContent = message + " ";
        ui.row.setAttribute("data-upload", "exists");
        var replace = document.createElement("button");
        replace.type = "button";
        replace.className = "btn btn-small btn-danger";
        replace.textContent = "Replace";
        replace.setAttribute("aria-label", "Replace " + key);
        replace.addEventListener("click", function () { uploadOne(file, key, ui, true).then(function (ok) { if (ok) refreshListing(); }); });
        ui.state.appendChild(replace);
        resolve(false);
      }
      xhr.addEventListener("load", function () {
        if (xhr.status === 200) {
          ui.bar.value = 100;
          ui.state.textContent = "Uploaded";
          ui.row.setAttribute("data-upload", "done");
          resolve(true);
        } else {
          var detail = "";
          try { var body = JSON.parse(xhr.responseText); detail = body.detail || body.reason || ""; } catch (e) { detail = ""; }
          if (xhr.status === 409) kept("Not replaced: a file with this name exists.");
          else failed("Failed" + (detail ? ": " + detail : "") + ". Nothing was stored.");
        }
      });
      xhr.addEventListener("error", function () { failed("Interrupted: nothing was stored for this file."); });
      xhr.addEventListener("abort", function () { failed("Cancelled: nothing was stored for this file."); });
      xhr.open("PUT", "/my-files/upload?key=" + encodeURIComponent(key) + "&overwrite=" + (overwrite ? "true" : "false"));
      if (file.type) xhr.setRequestHeader("X-File-Type", file.type);
      xhr.send(file);
    });
  }

  // which of these keys exist already (the server says); an empty list when it cannot tell: the uploads then
  // go without overwrite, and the server keeps any file that exists
  function existingKeys(keys) {
    return fetch("/my-files/existing", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ keys: keys }),
    }).then(function (response) { return response.ok ? response.json() : { existing: [] }; })
      .then(function (data) { return (data.existing || []).map(function (item) { return item.key; }); })
      .catch(function () { return []; });
  }

  // "replace", "skip" or "cancel", asked in a modal dialog (Escape cancels; focus starts on "Cancel the upload")
  function askOverwrite(keys) {
    var dialog = document.getElementById("overwrite-dialog");
    if (!dialog || !dialog.showModal) {
      return Promise.resolve(window.confirm("Replace " + keys.length + " existing file(s)?") ? "replace" : "cancel");
    }
    var shown = keys.slice(0, 20);
    document.getElementById("overwrite-summary").textContent = keys.length === 1
      ? "A file of this upload already exists in the bucket:"
      : keys.length + " files of this upload already exist in the bucket:";
    var list = document.getElementById("overwrite-list");
    list.textContent = "";
    shown.forEach(function (key) {
      var item = document.createElement("li");
      item.textContent = key;
      list.appendChild(item);
    });
    if (keys.length > shown.length) {
      var more = document.createElement("li");
      more.textContent = "and " + (keys.length - shown.length) + " more";
      list.appendChild(more);
    }
    dialog.returnValue = "";
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function () { resolve(dialog.returnValue || "cancel"); }, { once: true });
      dialog.showModal();
    });
  }

  function uploadFiles(entries) {
    var form = document.getElementById("upload-form");
    var list = document.getElementById("uploads");
    if (!form || !list || !entries.length) return;
    var prefix = form.getAttribute("data-prefix") || "";
    var planned = entries.map(function (entry) {
      return { file: entry.file, key: prefix + entry.path.replace(/^\/+/, "") };
    });
    existingKeys(planned.map(function (job) { return job.key; })).then(function (existing) {
      var taken = {};
      existing.forEach(function (key) { taken[key] = true; });
      var choice = existing.length ? askOverwrite(existing) : Promise.resolve("none");
      return choice.then(function (answer) { start(planned, taken, answer); });
    });
  }

  function start(planned, taken, answer) {
    var list = document.getElementById("uploads");
    if (answer === "cancel") {
      var note = document.createElement("p");
      note.className = "small muted upload-note";
      note.textContent = "Upload cancelled: nothing was sent.";
      list.appendChild(note);
      return;
    }
    var jobs = [];
    planned.forEach(function (job) {
      var ui = uploadRow(list, job.key);
      if (taken[job.key] && answer === "skip") {
        ui.bar.remove();
        ui.state.textContent = "Skipped: a file with this name exists.";
        ui.row.setAttribute("data-upload", "skipped");
        return;
      }
      jobs.push({ file: job.file, key: job.key, ui: ui, overwrite: !!taken[job.key] && answer === "replace" });
    });
    // two at a time: progress stays readable and the platform is not flooded
    var index = 0, anyDone = false;
    function next() {
      if (index >= jobs.length) return Promise.resolve();
      var job = jobs[index++];
      return uploadOne(job.file, job.key, job.ui, job.overwrite).then(function (ok) { anyDone = anyDone || ok; return next(); });
    }
    Promise.all([next(), next()]).then(function () { if (anyDone) refreshListing(); });
  }

  function readEntry(entry, path, out) {
    return new Promise(function (resolve) {
      if (entry.isFile) {
        entry.file(function (file) { out.push({ file: file, path: path + file.name }); resolve(); }, function () { resolve(); });
      } else if (entry.isDirectory) {
        var reader = entry.createReader(), all = [];
        (function readBatch() {
          reader.readEntries(function (batch) {
            if (!batch.length) {
              Promise.all(all.map(function (child) { return readEntry(child, path + entry.name + "/", out); })).then(resolve);
            } else {
              all = all.concat(Array.prototype.slice.call(batch));
              readBatch();
            }
          }, function () { resolve(); });
        })();
      } else {
        resolve();
      }
    });
  }

  function initUploads() {
    var form = document.getElementById("upload-form");
    if (!form || form.getAttribute("data-ready")) return;
    form.setAttribute("data-ready", "1");
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      input.addEventListener("change", function () {
        var entries = Array.prototype.map.call(input.files, function (file) {
          return { file: file, path: file.webkitRelativePath || file.name };
        });
        uploadFiles(entries);
        input.value = "";
      });
    });
    document.querySelectorAll("[data-file-trigger]").forEach(function (label) {
      label.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          document.getElementById(label.getAttribute("for")).click();
        }
      });
    });
    ["dragenter", "dragover"].forEach(function (type) {
      form.addEventListener(type, function (event) { event.preventDefault(); form.classList.add("drag"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      form.addEventListener(type, function () { form.classList.remove("drag"); });
    });
    form.addEventListener("drop", function (event) {
      event.preventDefault();
      var items = event.dataTransfer.items, out = [], waits = [];
      if (items && items.length && items[0].webkitGetAsEntry) {
        Array.prototype.forEach.call(items, function (item) {
          var entry = item.webkitGetAsEntry();
          if (entry) waits.push(readEntry(entry, "", out));
        });
        Promise.all(waits).then(function () { uploadFiles(out); });
      } else {
        uploadFiles(Array.prototype.map.call(event.dataTransfer.files, function (file) { return { file: file, path: file.name }; }));
      }
    });
  }
  document.addEventListener("DOMContentLoaded", initUploads);

  // a chart icon that cannot be loaded (an offline machine, a moved URL) becomes the chart's initial
  document.addEventListener("error", function (event) {
    var image = event.target;
    if (!image || image.tagName !== "IMG" || !image.classList.contains("chart-icon")) return;
    var fallback = document.createElement("span");
    fallback.className = "chart-icon chart-icon-fallback";
    fallback.setAttribute("aria-hidden", "true");
    fallback.textContent = (image.getAttribute("data-name") || "?").charAt(0).toUpperCase();
    image.replaceWith(fallback);
  }, true);

  // the login page posts its one-time code at once (a GET of the login link itself changes nothing)
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-autosubmit]");
    if (form) form.requestSubmit ? form.requestSubmit() : form.submit();
  });

  window.Sardonyx = { copyText: copyText, applyHiddenRules: applyHiddenRules };
})();
