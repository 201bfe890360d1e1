// The Backhaul contract from Node.js: quote a return, buy its label from the quote token, follow its
// tracking stream, push a partner scan and receive it, and read the parcel with the label's tracking token.
//
// Against a running server: BACKHAUL_GRPC_ADDRESS (host:port, plaintext) and BACKHAUL_API_KEY (a merchant's
// key, from `backhaul keys create`). The server's embedded default carriers are assumed: "rhein-paket" is a
// rate-card partner for returns from Germany, and it pushes its scans through IngestTrackingEvents.
"use strict";

const assert = require("node:assert/strict");
const { randomUUID } = require("node:crypto");
const { test } = require("node:test");
const grpc = require("@grpc/grpc-js");
const { Backhaul } = require("./backhaul");

const ADDRESS = process.env.BACKHAUL_GRPC_ADDRESS;
const API_KEY = process.env.BACKHAUL_API_KEY;
const PARTNER_ACCOUNT = "rhein-paket";
const STREAM_WAIT_MS = 10000;

function returnShipment() {
  return {
    customer: {
      contact: { name: "Jonas Becker", email: "jonas@example.com" },
      address: { regionCode: "DE", addressLines: ["Lindenallee 7"], locality: "Köln", postalCode: "50668" },
    },
    parcels: [{ weightGrams: 1200, lengthMm: 350, widthMm: 250, heightMm: 120 }],
    items: [
      {
        sku: "BOOT-42",
        description: "leather boots",
        hsCode: "6403.91",
        originCountry: "IT",
        quantity: 1,
        unitValue: { currencyCode: "EUR", units: "129", nanos: 900000000 },
        unitWeightGrams: 1000,
        returnReason: "RETURN_REASON_WRONG_SIZE",
      },
    ],
  };
}

function secondsAgo(seconds) {
  return { seconds: String(Math.floor(Date.now() / 1000) - seconds), nanos: 0 };
}

test(
  "a return quoted, bought and tracked live from Node.js",
  { skip: !(ADDRESS && API_KEY) && "set BACKHAUL_GRPC_ADDRESS and BACKHAUL_API_KEY to a running server" },
  async (t) => {
    const backhaul = new Backhaul(ADDRESS, API_KEY);
    t.after(() => backhaul.close());
    const shipment = returnShipment();
    let quote;
    let label;
    let stream;

    await t.test("QuoteReturn prices the return with the partner", async () => {
      const response = await backhaul.quoteReturn({
        ...shipment,
        preferences: { carrierAccountIds: [PARTNER_ACCOUNT], sort: "QUOTE_SORT_CHEAPEST" },
      });
      assert.deepEqual(response.errors, []);
      assert.ok(response.quotes.length > 0, "at least one quote");
      quote = response.quotes[0];
      assert.equal(quote.carrier.accountId, PARTNER_ACCOUNT);
      assert.match(quote.quoteToken, /\S{20,}/);
      assert.equal(typeof quote.price.units, "string", "int64 arrives as a string (longs: String)");
      assert.ok(Number(quote.price.units) > 0 || quote.price.nanos > 0, "a price above zero");
    });

    await t.test("CreateReturnLabel buys the label from the quote token", async () => {
      const response = await backhaul.createReturnLabel({
        idempotencyKey: randomUUID(),
        shipment,
        quoteToken: quote.quoteToken,
        labelFormat: "DOCUMENT_FORMAT_PDF",
        customerLocale: "de-DE",
      });
      label = response.label;
      assert.equal(label.status, "RETURN_LABEL_STATUS_PURCHASED");
      assert.equal(label.carrier.accountId, PARTNER_ACCOUNT);
      assert.deepEqual(label.price, quote.price);
      assert.ok(label.trackingNumber.length > 0);
      assert.ok(label.trackingToken.startsWith("bht_"));
      assert.equal(label.labelDocument.content.subarray(0, 5).toString("latin1"), "%PDF-");
      assert.equal(label.instructionsDocument.languageCode, "de");
    });

    await t.test("SubscribeTracking replays the label's (empty) history, then goes live", async () => {
      stream = backhaul.subscribeTracking({ labels: { labelIds: [label.id] }, resumeAfterCursor: "0" });
      const { message, skipped } = await stream.until((m) => m.kind === "replayComplete", STREAM_WAIT_MS);
      assert.deepEqual(skipped, []);
      assert.equal(message.replayComplete.replayedCount, 0);
    });

    let cursor;
    await t.test("IngestTrackingEvents stores a partner scan", async () => {
      const response = await backhaul.ingestTrackingEvents({
        carrierAccountId: PARTNER_ACCOUNT,
        events: [
          {
            trackingNumber: label.trackingNumber,
            occurredAt: secondsAgo(60),
            code: "EMA",
            description: "Paket in der Filiale Köln-Innenstadt abgegeben",
            location: { city: "Köln", country: "DE", facility: "Filiale Köln-Innenstadt" },
          },
        ],
      });
      assert.equal(response.acceptedCount, 1);
      assert.equal(response.duplicateCount, 0);
      assert.equal(response.results[0].outcome, "INGEST_OUTCOME_ACCEPTED");
      cursor = response.results[0].cursor;
      assert.match(cursor, /^[1-9][0-9]*$/, "uint64 cursor as a decimal string");
    });

    await t.test("the stream delivers the scan, normalised, with its milestone", async () => {
      const { message } = await stream.until((m) => m.kind === "event", STREAM_WAIT_MS);
      const event = message.event;
      assert.equal(event.cursor, cursor);
      assert.equal(event.labelId, label.id);
      assert.equal(event.trackingNumber, label.trackingNumber);
      assert.equal(event.status, "TRACKING_STATUS_IN_TRANSIT");
      assert.equal(event.milestone, "RETURN_MILESTONE_DROPPED_OFF");
      assert.equal(event.source, "TRACKING_EVENT_SOURCE_PARTNER_PUSH");
      assert.equal(event.description, "Paket in der Filiale Köln-Innenstadt abgegeben");
      assert.equal(event.location.facility, "Filiale Köln-Innenstadt");
      stream.cancel();
    });

    await t.test("the label's tracking token reads its tracking, and nothing else", async () => {
      const response = await backhaul.getTracking({}, label.trackingToken);
      assert.equal(response.state.labelId, label.id);
      assert.equal(response.state.lastCursor, cursor);
      assert.deepEqual(
        response.history.map((e) => e.cursor),
        [cursor],
      );
      assert.deepEqual(
        response.state.milestones.map((m) => [m.milestone, m.reached]),
        [
          ["RETURN_MILESTONE_DROPPED_OFF", true],
          ["RETURN_MILESTONE_IN_TRANSIT_TO_HUB", false],
          ["RETURN_MILESTONE_ARRIVED_AT_HUB", false],
          ["RETURN_MILESTONE_DELIVERED_TO_MERCHANT", false],
        ],
      );
      await assert.rejects(
        backhaul.unary(backhaul.rates, "QuoteReturn", shipment, label.trackingToken),
        (error) => error.code === grpc.status.PERMISSION_DENIED,
      );
    });
  },
);
