// A Node.js client of the Backhaul gRPC API (package backhaul.v1), loaded from the project's .proto files.
//
// The contract is read at run time with @grpc/proto-loader: protos/ holds backhaul/v1/*.proto, and
// build/proto-deps the google/type protos they import (staged by `protos/generate.py --deps-only`; the
// google/protobuf well-known types ship with protobufjs). Messages use camelCase field names, enums their
// names, and 64-bit integers strings (longs: String), so uint64 cursors and Money units stay exact.
"use strict";

const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const REPO_ROOT = path.resolve(__dirname, "..", "..");
const PROTO_FILES = ["rates", "labels", "tracking"].map((name) => `backhaul/v1/${name}.proto`);

function loadContract(repoRoot = REPO_ROOT) {
  const definition = protoLoader.loadSync(PROTO_FILES, {
    includeDirs: [path.join(repoRoot, "protos"), path.join(repoRoot, "build", "proto-deps")],
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).backhaul.v1;
}

// One client per service on a shared plaintext channel; every call sends the credential (an API key, or a
// label's tracking token) as `authorization: Bearer ...`.
class Backhaul {
  constructor(address, credential, { contract = loadContract(), deadlineSeconds = 20 } = {}) {
    const channel = new grpc.Channel(address, grpc.credentials.createInsecure(), {});
    const options = { channelOverride: channel };
    this.channel = channel;
    this.rates = new contract.RatesService(address, grpc.credentials.createInsecure(), options);
    this.labels = new contract.LabelsService(address, grpc.credentials.createInsecure(), options);
    this.tracking = new contract.TrackingService(address, grpc.credentials.createInsecure(), options);
    this.credential = credential;
    this.deadlineSeconds = deadlineSeconds;
  }

  metadata(credential = this.credential) {
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${credential}`);
    return metadata;
  }

  // A unary call as a promise: resolves with the response, rejects with the gRPC error (code, details).
  unary(client, method, request, credential = this.credential) {
    const deadline = new Date(Date.now() + this.deadlineSeconds * 1000);
    return new Promise((resolve, reject) => {
      client[method](request, this.metadata(credential), { deadline }, (error, response) =>
        error ? reject(error) : resolve(response),
      );
    });
  }

  quoteReturn(request) {
    return this.unary(this.rates, "QuoteReturn", request);
  }

  createReturnLabel(request) {
    return this.unary(this.labels, "CreateReturnLabel", request);
  }

  getTracking(request, credential) {
    return this.unary(this.tracking, "GetTracking", request, credential);
  }

  ingestTrackingEvents(request) {
    return this.unary(this.tracking, "IngestTrackingEvents", request);
  }

  // A server stream of SubscribeTrackingResponse messages, read one at a time with `next()`.
  subscribeTracking(request) {
    return new TrackingStream(this.tracking.SubscribeTracking(request, this.metadata()));
  }

  close() {
    this.rates.close();
    this.labels.close();
    this.tracking.close();
    this.channel.close();
  }
}

class TrackingStream {
  constructor(call) {
    this.call = call;
    this.received = [];
    this.waiting = [];
    this.failure = null;
    call.on("data", (message) => {
      const waiter = this.waiting.shift();
      if (waiter) {
        waiter.resolve(message);
      } else {
        this.received.push(message);
      }
    });
    call.on("error", (error) => {
      this.failure = error;
      for (const waiter of this.waiting.splice(0)) {
        waiter.reject(error);
      }
    });
  }

  // The next message; rejects when the stream fails or nothing arrives within `timeoutMs`.
  next(timeoutMs) {
    if (this.received.length > 0) {
      return Promise.resolve(this.received.shift());
    }
    if (this.failure) {
      return Promise.reject(this.failure);
    }
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        reject(new Error(`no tracking stream message within ${timeoutMs} ms`));
      }, timeoutMs);
      waiter.resolve = (message) => {
        clearTimeout(timer);
        resolve(message);
      };
      waiter.reject = (error) => {
        clearTimeout(timer);
        reject(error);
      };
      this.waiting.push(waiter);
    });
  }

  // Reads until a message satisfies `matches`; the messages passed over on the way are returned with it.
  async until(matches, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    const skipped = [];
    for (;;) {
      const message = await this.next(Math.max(deadline - Date.now(), 1));
      if (matches(message)) {
        return { message, skipped };
      }
      skipped.push(message);
    }
  }

  cancel() {
    this.call.cancel();
  }
}

module.exports = { Backhaul, TrackingStream, loadContract, REPO_ROOT };
