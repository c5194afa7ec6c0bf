#!/usr/bin/env node
// Example Node.js client of arcgate's gRPC API, built from the .proto files
// at run time with @grpc/proto-loader (no generated code).
//
//   node client.js list                  folders and services, every page
//   node client.js watch <job name>      stream a job's states until it ends
//   node client.js start <service name>  start a service: StartService returns
//                                        a long-running operation at once, the
//                                        client waits for it (WaitOperation)
//
// The server address is --addr host:port, else ARCGATE_ADDR, else
// 127.0.0.1:9090. With caller authentication on, set ARCGATE_API_KEY: it is
// sent as "authorization: Bearer <key>". The protos are read from
// ARCGATE_PROTO_ROOT (default: the repository this file is in), from its
// proto/ and third_party/googleapis/ folders (the latter is filled by
// scripts/googleapis.sh).
//
// Output is one line per item, fit for scripts:
//   folder folders/System
//   service folders/System/services/PublishingTools.GPServer GPServer
//   job folders/System/services/PublishingTools.GPServer/jobs/j… JOB_STATE_EXECUTING
//   done JOB_STATE_SUCCEEDED
//   operation operations/… start folders/Maps/services/Roads.MapServer
//   started folders/Maps/services/Roads.MapServer SERVICE_STATE_STARTED
// and the request id arcgate gave each call on stderr. Exit status: 0 on
// success, 1 on a gRPC error (its code name and message on stderr, then one
// line per google.rpc.ErrorInfo in the error's details:
//   error_info NOT_FOUND arcgate.admin.v1 resource=folders/…/jobs/j…
// that is reason, domain and the metadata sorted by key), 2 on bad usage.
'use strict';

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const usage = 'usage: node client.js [--addr host:port] list | watch <job name> | start <service name>';

function parseArgs(argv) {
  const args = { addr: process.env.ARCGATE_ADDR || '127.0.0.1:9090', rest: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--addr' && i + 1 < argv.length) {
      args.addr = argv[++i];
    } else if (argv[i].startsWith('--addr=')) {
      args.addr = argv[i].slice('--addr='.length);
    } else {
      args.rest.push(argv[i]);
    }
  }
  return args;
}

// loadAPI loads the arcgate.admin.v1 package from the protos, and the
// google.rpc error types that decode an error's details.
function loadAPI() {
  const root = process.env.ARCGATE_PROTO_ROOT || path.resolve(__dirname, '..', '..');
  const protoDir = path.join(root, 'proto');
  const googleapis = path.join(root, 'third_party', 'googleapis');
  if (!fs.existsSync(path.join(googleapis, 'google', 'api', 'annotations.proto'))) {
    throw new Error(`${googleapis} has no google/api protos: run scripts/googleapis.sh first`);
  }
  const files = [
    'arcgate/admin/v1/services.proto',
    'arcgate/admin/v1/jobs.proto',
    'google/rpc/status.proto',
    'google/rpc/error_details.proto',
    'google/longrunning/operations.proto',
  ];
  const def = protoLoader.loadSync(files, {
    includeDirs: [protoDir, googleapis],
    keepCase: false, // lowerCamelCase fields, as in arcgate's REST JSON
    longs: String,
    enums: String, // enum values by name, e.g. "JOB_STATE_SUCCEEDED"
    defaults: true,
    oneofs: true,
  });
  for (const t of ['google.rpc.Status', 'google.rpc.ErrorInfo']) {
    if (!def[t]) throw new Error(`${googleapis} has no ${t}: run scripts/googleapis.sh for current protos`);
  }
  const pkg = grpc.loadPackageDefinition(def);
  return { api: pkg.arcgate.admin.v1, longrunning: pkg.google.longrunning, types: def };
}

// errorInfoLines decodes the google.rpc.Status that arcgate sends in an
// error's grpc-status-details-bin trailer and returns a line for each
// google.rpc.ErrorInfo among its details.
function errorInfoLines(types, err) {
  const bin = err.metadata ? err.metadata.get('grpc-status-details-bin') : [];
  if (bin.length === 0) return [];
  const st = types['google.rpc.Status'].deserialize(bin[0]);
  const lines = [];
  for (const d of st.details) {
    // google.protobuf.Any keeps its proto field names (type_url) whatever
    // keepCase says: protobufjs builds it in, it is not parsed from a file.
    const typeUrl = d.type_url !== undefined ? d.type_url : d.typeUrl;
    if (typeUrl !== 'type.googleapis.com/google.rpc.ErrorInfo') continue;
    const info = types['google.rpc.ErrorInfo'].deserialize(d.value);
    const md = Object.keys(info.metadata).sort().map((k) => `${k}=${info.metadata[k]}`);
    lines.push(['error_info', info.reason, info.domain, ...md].join(' '));
  }
  return lines;
}

// callMetadata carries the API key, when there is one.
function callMetadata() {
  const md = new grpc.Metadata();
  if (process.env.ARCGATE_API_KEY) {
    md.set('authorization', 'Bearer ' + process.env.ARCGATE_API_KEY);
  }
  return md;
}

// deadline returns a deadline seconds from now.
function deadline(seconds) {
  return new Date(Date.now() + seconds * 1000);
}

// unary calls client[method](req) and resolves with the response, logging
// the request id arcgate returned in the response header metadata.
function unary(client, method, req) {
  return new Promise((resolve, reject) => {
    const call = client[method](req, callMetadata(), { deadline: deadline(30) }, (err, res) => {
      if (err) reject(err);
      else resolve(res);
    });
    call.on('metadata', (md) => {
      const id = md.get('x-request-id');
      if (id.length > 0) console.error(`${method} request_id ${id[0]}`);
    });
  });
}

async function list(api, addr) {
  const services = new api.ServicesService(addr, grpc.credentials.createInsecure());
  try {
    let pageToken = '';
    do {
      const res = await unary(services, 'ListFolders', { pageSize: 100, pageToken });
      for (const f of res.folders) console.log(`folder ${f.name}`);
      pageToken = res.nextPageToken;
    } while (pageToken);
    do {
      const res = await unary(services, 'ListServices', { parent: 'folders/-', pageSize: 100, pageToken });
      for (const s of res.services) {
        console.log(`service ${s.name} ${s.typeName}`);
      }
      pageToken = res.nextPageToken;
    } while (pageToken);
  } finally {
    services.close();
  }
}

// unpackAny decodes a google.protobuf.Any of a type among types.
function unpackAny(types, any) {
  const typeUrl = any.type_url !== undefined ? any.type_url : any.typeUrl;
  const t = types[typeUrl.slice(typeUrl.lastIndexOf('/') + 1)];
  if (!t) throw new Error(`cannot decode a ${typeUrl}`);
  return t.deserialize(any.value);
}

// start starts a service: StartService answers a google.longrunning.Operation
// at once; WaitOperation answers when it is done (or after its timeout, then
// the client asks again). The operation's response is the started Service;
// its error, a google.rpc.Status, is thrown as a gRPC error would be.
async function start(api, longrunning, types, addr, name) {
  const services = new api.ServicesService(addr, grpc.credentials.createInsecure());
  const ops = new longrunning.Operations(addr, grpc.credentials.createInsecure());
  try {
    let op = await unary(services, 'StartService', { name });
    const md = unpackAny(types, op.metadata);
    console.log(`operation ${op.name} ${md.verb} ${md.target}`);
    while (!op.done) {
      op = await unary(ops, 'WaitOperation', { name: op.name, timeout: { seconds: 20 } });
    }
    if (op.error) {
      const err = new Error(op.error.message);
      err.code = op.error.code;
      err.details = op.error.message;
      throw err;
    }
    const svc = unpackAny(types, op.response);
    console.log(`started ${svc.name} ${svc.realTimeState}`);
  } finally {
    services.close();
    ops.close();
  }
}

function watch(api, addr, name) {
  const jobs = new api.JobsService(addr, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    let last = '';
    const stream = jobs.WatchJob({ name }, callMetadata());
    stream.on('metadata', (md) => {
      const id = md.get('x-request-id');
      if (id.length > 0) console.error(`WatchJob request_id ${id[0]}`);
    });
    stream.on('data', (msg) => {
      last = msg.job.state;
      console.log(`job ${msg.job.name} ${msg.job.state}`);
    });
    stream.on('error', (err) => {
      jobs.close();
      reject(err);
    });
    stream.on('end', () => {
      jobs.close();
      console.log(`done ${last}`);
      resolve();
    });
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const [cmd, ...rest] = args.rest;
  let api;
  let longrunning;
  let types;
  try {
    ({ api, longrunning, types } = loadAPI());
  } catch (err) {
    console.error(String(err.message || err));
    return 1;
  }
  try {
    if (cmd === 'list' && rest.length === 0) {
      await list(api, args.addr);
    } else if (cmd === 'watch' && rest.length === 1) {
      await watch(api, args.addr, rest[0]);
    } else if (cmd === 'start' && rest.length === 1) {
      await start(api, longrunning, types, args.addr, rest[0]);
    } else {
      console.error(usage);
      return 2;
    }
  } catch (err) {
    const code = err.code !== undefined ? grpc.status[err.code] : 'ERROR';
    console.error(`${code}: ${err.details || err.message}`);
    for (const line of errorInfoLines(types, err)) console.error(line);
    return 1;
  }
  return 0;
}

main().then((code) => {
  process.exitCode = code;
});
