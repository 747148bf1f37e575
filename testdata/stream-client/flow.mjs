// Runs the SQS flow of Stream's documentation with Stream's own server-side
// JavaScript clients (the stream-chat package, and the generated
// @stream-io/node-sdk), against the Stream-compatible settings API at
// STREAM_BASE_URL. The flow is the documentation's, word for word, except
// that the client is given a baseURL and the new hook's queue and
// credentials come from the environment. The last line of output is
// "RESULT <json>" for the Go test that runs this script.
//
//   node flow.mjs doc        get settings, append an SQS hook, update, test it
//   node flow.mjs sdk        the same with @stream-io/node-sdk (getApp,
//                            updateApp with enable_hook_payload_compression
//                            from COMPRESS, checkSQS)
//   node flow.mjs settings   updateAppSettings with the JSON object SETTINGS,
//                            print the app's settings
//   node flow.mjs delete     delete the hook HOOK_ID with {id, delete: true}
//                            and explicit_event_hooks_deletion
//   node flow.mjs remove     get settings, drop the hook on QUEUE_URL, update
//   node flow.mjs get        print the app's event hooks
//   node flow.mjs invalid    update with an invalid hook, print the error
//   node flow.mjs parse      parse each SQS message body of the JSON array in
//                            the file BODIES_FILE with both clients' parseSqs,
//                            and with JSON.parse as the documentation's
//                            consumer example does
import { readFileSync } from 'node:fs';
import { StreamChat } from 'stream-chat';
import { StreamClient } from '@stream-io/node-sdk';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const client = new StreamChat(env('STREAM_API_KEY'), env('STREAM_API_SECRET'), {
  baseURL: env('STREAM_BASE_URL'),
});

async function doc() {
  // Note: Any previously existing hooks not included in event_hooks array will be deleted.
  // Get current settings first to preserve your existing configuration.
  // STEP 1: Get current app settings to preserve existing hooks
  const response = await client.getAppSettings();
  console.log("Current event hooks:", response.event_hooks);
  // STEP 2: Add SQS hook while preserving existing hooks
  const existingHooks = response.event_hooks || [];
  const newSQSHook = {
    enabled: true,
    hook_type: "sqs",
    sqs_queue_url: env('QUEUE_URL'),
    sqs_region: "us-east-1",
    sqs_auth_type: "keys", // or "resource" for role-based auth
    sqs_key: env('SQS_KEY'),
    sqs_secret: env('SQS_SECRET'),
    event_types: [], // empty array = all events
  };
  // STEP 3: Update with complete array including existing hooks
  await client.updateAppSettings({
    event_hooks: [...existingHooks, newSQSHook],
  });
  // Test the SQS connection
  const check = await client.testSQSSettings();

  const after = await client.getAppSettings();
  return { before: response.event_hooks, after: after.event_hooks, check };
}

async function sdk() {
  const client = new StreamClient(env('STREAM_API_KEY'), env('STREAM_API_SECRET'), {
    basePath: env('STREAM_BASE_URL'),
  });
  const response = await client.getApp();
  const existingHooks = response.app.event_hooks || [];
  await client.updateApp({
    event_hooks: [...existingHooks, {
      enabled: true,
      hook_type: "sqs",
      sqs_queue_url: env('QUEUE_URL'),
      sqs_region: "us-east-1",
      sqs_auth_type: "keys",
      sqs_key: env('SQS_KEY'),
      sqs_secret: env('SQS_SECRET'),
      event_types: [],
    }],
    enable_hook_payload_compression: process.env.COMPRESS === 'true',
  });
  const check = await client.checkSQS();
  const after = await client.getApp();
  return {
    before: response.app.event_hooks, after: after.app.event_hooks, check,
    compression: after.app.enable_hook_payload_compression,
  };
}

async function settings() {
  await client.updateAppSettings(JSON.parse(env('SETTINGS')));
  const after = await client.getAppSettings();
  return {
    compression: after.app?.enable_hook_payload_compression,
    encoding: after.app?.sqs_body_encoding,
    hooks: after.event_hooks,
  };
}

async function del() {
  await client.updateAppSettings({
    event_hooks: [{ id: env('HOOK_ID'), delete: true }],
    explicit_event_hooks_deletion: true,
  });
  const after = await client.getAppSettings();
  return { after: after.event_hooks };
}

async function parse() {
  const sdkClient = new StreamClient(env('STREAM_API_KEY'), env('STREAM_API_SECRET'), {
    basePath: env('STREAM_BASE_URL'),
  });
  const bodies = JSON.parse(readFileSync(env('BODIES_FILE'), 'utf8'));
  const attempt = (fn) => {
    try {
      return { event: fn() };
    } catch (e) {
      return { error: e.message };
    }
  };
  return {
    parsed: bodies.map((body) => ({
      chat: attempt(() => client.parseSqs(body)),
      sdk: attempt(() => sdkClient.parseSqs(body)),
      json: attempt(() => JSON.parse(body)),
    })),
  };
}

async function remove() {
  const response = await client.getAppSettings();
  const kept = (response.event_hooks || []).filter((h) => h.sqs_queue_url !== env('QUEUE_URL'));
  await client.updateAppSettings({ event_hooks: kept });
  const after = await client.getAppSettings();
  return { before: response.event_hooks, after: after.event_hooks };
}

async function get() {
  const response = await client.getAppSettings();
  return { hooks: response.event_hooks, app_hooks: response.app?.event_hooks };
}

async function invalid() {
  try {
    await client.updateAppSettings({
      event_hooks: [{ enabled: true, hook_type: "sqs", sqs_queue_url: env('QUEUE_URL'), sqs_auth_type: "keys" }],
    });
    return { error: null };
  } catch (e) {
    return { error: e.message, code: e.code, status: e.status, body: e.response?.data };
  }
}

const modes = { doc, sdk, settings, delete: del, remove, get, invalid, parse };
const mode = modes[process.argv[2]];
if (!mode) {
  console.error(`usage: node flow.mjs ${Object.keys(modes).join('|')}`);
  process.exit(2);
}
try {
  const result = await mode();
  console.log('RESULT ' + JSON.stringify(result));
} catch (e) {
  console.log('RESULT ' + JSON.stringify({ failed: e.message, code: e.code ?? null, status: e.status ?? null }));
  process.exit(1);
}
