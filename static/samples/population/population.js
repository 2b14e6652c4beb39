/* Population Explorer: a sample SMART app that works across patients. Launched from the EHR with no patient in
 * context (or standalone), it lists the server's Groups and a registry search, with user-level read scopes. */
(function () {
  "use strict";

  var SCOPE = "openid fhirUser launch user/Patient.rs user/Condition.rs user/Group.rs";
  var DIABETES = "http://snomed.info/sct|44054006";

  function fail(error) {
    document.getElementById("status").hidden = true;
    var box = document.getElementById("error") || document.getElementById("status");
    box.hidden = false;
    box.textContent = "The SMART launch failed: " + (error && error.message ? error.message.split("\n")[0] : String(error));
  }

  function launch() {
    var params = new URLSearchParams(window.location.search);
    var iss = params.get("iss") || new URL("/fhir", window.location.href).href;
    FHIR.oauth2.authorize({ clientId: params.get("client_id") || "sample-population", scope: SCOPE,
      redirectUri: "index.html", iss: iss, completeInTarget: true }).catch(fail);
  }

  function name(patient) {
    var n = (patient && patient.name || [])[0] || {};
    return ((n.family || "").toUpperCase() + ", " + (n.given || []).join(" ")).replace(/^, |, $/g, "") || "Name not known";
  }

  function cells(tbody, values) {
    var tr = document.createElement("tr");
    values.forEach(function (value) {
      var td = document.createElement("td");
      if (value instanceof Node) td.appendChild(value); else td.textContent = value;
      tr.appendChild(td);
    });
    tbody.appendChild(tr);
    return tr;
  }

  function showMembers(client, group) {
    var ids = (group.member || []).map(function (m) { return ((m.entity || {}).reference || "").split("/")[1]; })
      .filter(Boolean).slice(0, 50);
    var box = document.getElementById("members");
    var list = document.getElementById("members-list");
    box.hidden = false;
    document.getElementById("members-title").textContent = "Members of " + (group.name || group.id) +
      (ids.length < (group.member || []).length ? " (first 50)" : "");
    list.textContent = "";
    if (!ids.length) { list.textContent = "No members listed."; return Promise.resolve(); }
    return client.request("Patient?_id=" + ids.join(",") + "&_count=50", { flat: true }).then(function (people) {
      people.forEach(function (p) {
        var li = document.createElement("li");
        li.textContent = name(p) + " · born " + (p.birthDate || "not known");
        list.appendChild(li);
      });
    });
  }

  // Bulk Data export of one Group (Bulk Data Access IG v2): kick-off with Prefer: respond-async, then poll the
  // status URL until the manifest arrives. The export holds what this app's own scopes let it read.
  function exportGroup(client, group, out) {
    var headers = { Accept: "application/fhir+json", Prefer: "respond-async",
      Authorization: "Bearer " + client.state.tokenResponse.access_token };
    out.textContent = "Export of " + (group.name || group.id) + " started…";
    return fetch(client.state.serverUrl + "/Group/" + encodeURIComponent(group.id) + "/$export", { headers: headers })
      .then(function (kickoff) {
        if (kickoff.status !== 202) return kickoff.text().then(function (body) {
          throw new Error("kick-off answered " + kickoff.status + ": " + body.slice(0, 300));
        });
        var status = kickoff.headers.get("Content-Location");
        function poll() {
          return fetch(status, { headers: { Accept: "application/json", Authorization: headers.Authorization } })
            .then(function (answer) {
              if (answer.status === 202) {
                out.textContent = "Exporting " + (group.name || group.id) + "… " + (answer.headers.get("X-Progress") || "");
                var wait = Math.min(5, Number(answer.headers.get("Retry-After")) || 1);
                return new Promise(function (done) { setTimeout(done, wait * 1000); }).then(poll);
              }
              if (answer.status !== 200) throw new Error("the status URL answered " + answer.status);
              return answer.json();
            });
        }
        return poll();
      })
      .then(function (manifest) {
        out.textContent = "Exported " + (group.name || group.id) + ": " + (manifest.output || []).map(function (file) {
          return file.count + " " + file.type;
        }).join(", ") + " (NDJSON files at the manifest's URLs, for this app's token only).";
      })
      .catch(function (error) { out.textContent = "The export failed: " + (error.message || String(error)); });
  }

  function groups(client) {
    var tbody = document.querySelector("#groups tbody");
    return client.request("Group?_count=50", { flat: true }).then(function (found) {
      document.getElementById("groups-note").textContent = found.length ? "" : "No Groups are stored on this server.";
      found.forEach(function (group) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = "Show members";
        button.setAttribute("aria-label", "Show the members of " + (group.name || group.id));
        button.addEventListener("click", function () { showMembers(client, group).catch(fail); });
        var exporting = document.createElement("button");
        exporting.type = "button";
        exporting.textContent = "Export";
        exporting.setAttribute("aria-label", "Bulk export " + (group.name || group.id));
        exporting.addEventListener("click", function () {
          exportGroup(client, group, document.getElementById("export-result"));
        });
        var actions = document.createElement("span");
        actions.appendChild(button);
        actions.appendChild(document.createTextNode(" "));
        actions.appendChild(exporting);
        cells(tbody, [group.name || group.id, group.type || "", String(group.quantity || (group.member || []).length),
          actions]).children[2].className = "num";
      });
    });
  }

  function registry(client) {
    var tbody = document.querySelector("#registry tbody");
    return client.request("Condition?code=" + encodeURIComponent(DIABETES) + "&_include=Condition:subject&_count=100")
      .then(function (bundle) {
        var entries = bundle.entry || [];
        var patients = {};
        entries.forEach(function (e) {
          if (e.resource.resourceType === "Patient") patients["Patient/" + e.resource.id] = e.resource;
        });
        var conditions = entries.filter(function (e) { return e.resource.resourceType === "Condition"; });
        var total = bundle.total !== undefined ? bundle.total : conditions.length;
        document.getElementById("registry-note").textContent = total + (total === 1 ? " diagnosis" : " diagnoses") +
          " found across every patient this user may see (Condition?code=" + DIABETES + "&_include=Condition:subject).";
        conditions.forEach(function (e) {
          var c = e.resource;
          var patient = patients[(c.subject || {}).reference];
          var status = ((c.clinicalStatus || {}).coding || [{}])[0].code || "";
          cells(tbody, [name(patient), patient ? patient.birthDate || "" : "", (c.onsetDateTime || "").slice(0, 10), status]);
        });
      });
  }

  function show() {
    FHIR.oauth2.ready().then(function (client) {
      document.getElementById("status").textContent = "Launched with no patient in context: this app reads across patients.";
      document.getElementById("content").hidden = false;
      var claims = client.getIdToken() || {};
      document.getElementById("who").textContent = "As " + (claims.fhirUser || "an unknown user") +
        "; granted " + ((client.state.tokenResponse || {}).scope || "");
      return Promise.all([groups(client), registry(client)]);
    }).catch(fail);
  }

  window.PopulationApp = { launch: launch, show: show };
})();
