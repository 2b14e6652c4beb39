/* My Medicines: a patient-facing sample SMART app. Opened from the patient portal (or standalone, where the person
 * signs in at the portal), it reads the person's own medicines and allergies with patient-level scopes. */
(function () {
  "use strict";

  var SCOPE = "openid fhirUser launch launch/patient patient/Patient.rs patient/MedicationRequest.rs " +
    "patient/AllergyIntolerance.rs";

  function fail(error) {
    document.getElementById("status").hidden = true;
    var box = document.getElementById("error") || document.getElementById("status");
    box.hidden = false;
    box.textContent = "The SMART launch failed: " + (error && error.message ? error.message.split("\n")[0] : String(error));
  }

  function launch() {
    var params = new URLSearchParams(window.location.search);
    var iss = params.get("iss") || new URL("/fhir", window.location.href).href;
    var scope = params.get("launch") ? SCOPE : SCOPE.replace("launch ", "");  // standalone: no EHR launch
    FHIR.oauth2.authorize({ clientId: params.get("client_id") || "sample-medicines", scope: scope,
      redirectUri: "index.html", iss: iss, completeInTarget: true }).catch(fail);
  }

  function words(concept) {
    concept = concept || {};
    return concept.text || ((concept.coding || [])[0] || {}).display || "Not named";
  }

  function item(list, main, detail) {
    var li = document.createElement("li");
    li.textContent = main;
    if (detail) {
      var small = document.createElement("div");
      small.className = "muted";
      small.textContent = detail;
      li.appendChild(small);
    }
    list.appendChild(li);
  }

  function banner(patient) {
    var n = (patient.name || [])[0] || {};
    var box = document.getElementById("banner");
    box.hidden = false;
    var who = document.createElement("span");
    who.className = "name";
    who.textContent = ((n.given || []).join(" ") + " " + (n.family || "")).trim();
    var born = document.createElement("span");
    born.textContent = "Born " + (patient.birthDate || "not known");
    box.appendChild(who);
    box.appendChild(born);
  }

  function show() {
    FHIR.oauth2.ready().then(function (client) {
      document.getElementById("status").textContent = "Your record, read with your permission.";
      document.getElementById("content").hidden = false;
      var id = encodeURIComponent(client.patient.id);
      var patient = client.patient.read().then(function (p) {
        if ((client.state.tokenResponse || {}).need_patient_banner !== false) banner(p);
      });
      var medicines = client.request("MedicationRequest?patient=" + id + "&_count=100", { flat: true }).then(function (all) {
        var current = document.getElementById("medicines"), stopped = document.getElementById("stopped");
        all.forEach(function (m) {
          var name = m.medicationCodeableConcept ? words(m.medicationCodeableConcept) :
            ((m.medicationReference || {}).display || "A medicine");
          var how = ((m.dosageInstruction || [])[0] || {}).text || "";
          item(m.status === "active" ? current : stopped, name,
            [how, m.authoredOn ? "prescribed " + m.authoredOn.slice(0, 10) : ""].filter(Boolean).join(" · "));
        });
        if (!current.children.length) item(current, "No medicines are listed as taken now.");
        if (!stopped.children.length) item(stopped, "None.");
      });
      var allergies = client.request("AllergyIntolerance?patient=" + id, { flat: true }).then(function (all) {
        var list = document.getElementById("allergies");
        all.forEach(function (a) {
          var reactions = (a.reaction || []).map(function (r) { return (r.manifestation || []).map(words).join(", "); });
          item(list, words(a.code), reactions.filter(Boolean).join("; "));
        });
        if (!all.length) item(list, "No allergies are recorded.");
      });
      return Promise.all([patient, medicines, allergies]);
    }).catch(fail);
  }

  window.MedicinesApp = { launch: launch, show: show };
})();
