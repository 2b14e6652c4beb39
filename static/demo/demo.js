/* The bundled demo SMART app: launch.html starts the launch, index.html shows what the app received.
 * Everything goes through the official SMART JS client (window.FHIR from fhir-client.min.js). */
(function () {
  "use strict";

  var SCOPE = "openid fhirUser profile launch launch/patient online_access patient/*.rs";
  var CONTEXT_FIELDS = {
    patient: "The patient in context (Patient id)",
    encounter: "The encounter in context (Encounter id)",
    fhirContext: "Further resources the EHR put in context",
    need_patient_banner: "Whether the app must show its own patient banner",
    smart_style_url: "Styles the EHR asks the app to follow",
    intent: "What the EHR wants the app to do",
    tenant: "The EHR's tenant",
    scope: "The scopes the EHR granted",
    expires_in: "Seconds until the access token expires"
  };

  function text(value) {
    if (value === undefined || value === null) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function row(tbody, label, value, note) {
    var tr = document.createElement("tr");
    var th = document.createElement("th");
    th.textContent = label;
    var td = document.createElement("td");
    var code = document.createElement("code");
    code.textContent = text(value);
    td.appendChild(code);
    if (note) {
      var small = document.createElement("div");
      small.className = "muted";
      small.textContent = note;
      td.appendChild(small);
    }
    tr.appendChild(th);
    tr.appendChild(td);
    tbody.appendChild(tr);
  }

  function masked(tbody, label, secret) {
    var tr = document.createElement("tr");
    var th = document.createElement("th");
    th.textContent = label;
    var td = document.createElement("td");
    var code = document.createElement("code");
    code.textContent = secret.slice(0, 8) + "…";
    var reveal = document.createElement("button");
    reveal.type = "button";
    reveal.textContent = "Reveal";
    reveal.addEventListener("click", function () { code.textContent = secret; reveal.remove(); });
    td.appendChild(code);
    td.appendChild(document.createTextNode(" "));
    td.appendChild(reveal);
    tr.appendChild(th);
    tr.appendChild(td);
    tbody.appendChild(tr);
  }

  function fail(error) {
    document.getElementById("status").hidden = true;
    var box = document.getElementById("error") || document.getElementById("status");
    box.hidden = false;
    box.textContent = "The SMART launch failed: " + (error && error.message ? error.message : String(error));
  }

  function launch() {
    var params = new URLSearchParams(window.location.search);
    var iss = params.get("iss") || new URL("/fhir", window.location.href).href;
    // The same files can be served from another origin and registered as another app: its launch URL then
    // names the client id (launch.html?client_id=…), since the redirect URIs belong to that origin.
    var clientId = params.get("client_id") || "demo-app";
    // completeInTarget: inside the EHR's frame the whole flow stays in the frame, where the app lives
    FHIR.oauth2.authorize({ clientId: clientId, scope: SCOPE, redirectUri: "index.html", iss: iss,
      completeInTarget: true })
      .catch(fail);
  }

  function patientName(patient) {
    var name = (patient.name || [])[0] || {};
    var family = (name.family || "").toUpperCase();
    var given = (name.given || []).join(" ");
    return family + (given ? ", " + given : "");
  }

  function showBanner(patient) {
    var banner = document.getElementById("banner");
    banner.hidden = false;
    var mrn = (patient.identifier || []).filter(function (id) {
      return ((id.type || {}).coding || []).some(function (c) { return c.code === "MR"; });
    })[0];
    var parts = [["", patientName(patient), "name"], ["Born", patient.birthDate || "Not known"],
      ["Gender", patient.gender || "Not known"], ["MRN", mrn ? mrn.value : "Not known"]];
    parts.forEach(function (part) {
      var span = document.createElement("span");
      if (part[2]) span.className = part[2];
      if (part[0]) {
        var label = document.createElement("span");
        label.className = "label";
        label.textContent = part[0];
        span.appendChild(label);
      }
      span.appendChild(document.createTextNode(part[1]));
      banner.appendChild(span);
    });
  }

  function quantity(q) {
    return q ? [q.value, q.unit || q.code || ""] : ["", ""];
  }

  function vitalRow(tbody, obs) {
    var tr = document.createElement("tr");
    var value;
    if (obs.component && obs.component.length) {
      var values = obs.component.map(function (c) { return quantity(c.valueQuantity); });
      value = [values.map(function (v) { return v[0]; }).join("/"), values[0][1]];
    } else {
      value = quantity(obs.valueQuantity);
    }
    var cells = [(obs.effectiveDateTime || "").slice(0, 16).replace("T", " "),
      (obs.code && (obs.code.text || ((obs.code.coding || [])[0] || {}).display)) || "", value[0], value[1]];
    cells.forEach(function (cell, index) {
      var td = document.createElement("td");
      if (index === 2) td.className = "num";
      td.textContent = text(cell);
      tr.appendChild(td);
    });
    tbody.appendChild(tr);
  }

  function show() {
    FHIR.oauth2.ready().then(function (client) {
      var response = client.state.tokenResponse || {};
      document.getElementById("status").textContent = "Launched: this app holds an access token from " +
        client.state.serverUrl;
      document.getElementById("content").hidden = false;
      var context = document.querySelector("#context tbody");
      row(context, "iss (FHIR server)", client.state.serverUrl, "Where the app was launched from");
      Object.keys(CONTEXT_FIELDS).forEach(function (key) {
        if (response[key] !== undefined) row(context, key, response[key], CONTEXT_FIELDS[key]);
      });
      var token = document.querySelector("#token tbody");
      Object.keys(response).forEach(function (key) {
        if (key === "access_token" || key === "refresh_token" || key === "id_token") {
          masked(token, key, String(response[key]));
        } else {
          row(token, key, response[key]);
        }
      });
      var idToken = client.getIdToken();
      var claims = document.querySelector("#id-token tbody");
      if (idToken) {
        Object.keys(idToken).forEach(function (key) { row(claims, key, idToken[key]); });
      } else {
        row(claims, "id_token", "none", "The app asked for openid and fhirUser; no id_token came back");
      }
      var patientId = client.patient.id;
      var vitals = document.querySelector("#vitals tbody");
      if (!patientId) {
        document.getElementById("vitals-note").textContent = "No patient in context, so no vital signs to show.";
        return null;
      }
      var patient = client.patient.read().then(function (p) {
        if (response.need_patient_banner !== false) showBanner(p);
        document.title = "Sandbox Demo App · " + patientName(p);
        return p;
      });
      var again = document.getElementById("vitals-again");
      again.hidden = false;
      again.addEventListener("click", function () { readVitals(client, patientId, vitals); });
      return Promise.all([patient, readVitals(client, patientId, vitals)]);
    }).catch(fail);
  }

  // Reads the vital signs with the app's access token; "Read again" repeats it, so a person can watch a revoked
  // or expired token being refused.
  function readVitals(client, patientId, vitals) {
    var note = document.getElementById("vitals-note");
    var problem = document.getElementById("vitals-error");
    problem.hidden = true;
    return client.request("Observation?patient=" + encodeURIComponent(patientId) +
      "&category=vital-signs&_sort=-date&_count=30", { flat: true }).then(function (list) {
      vitals.textContent = "";
      note.textContent = list.length ? "Read with this app's own access token at " +
        new Date().toLocaleTimeString() + "." : "No vital signs are recorded for this patient.";
      list.forEach(function (obs) { vitalRow(vitals, obs); });
    }, function (error) {
      vitals.textContent = "";
      note.textContent = "Tried at " + new Date().toLocaleTimeString() + " with the same access token.";
      problem.hidden = false;
      problem.textContent = "The FHIR server refused to read the vital signs: " +
        (error && error.message ? error.message.split("\n")[0] : String(error));
    });
  }

  window.DemoApp = { launch: launch, show: show };
})();
