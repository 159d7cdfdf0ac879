// bot-counter: counts bot and human requests, and queues every bot hit for later review.
//
//   on_server_start      reads the queue name (config `queue`, default "bot-hits")
//   on_request_complete  bots: storage counter `bots`, metric bot_requests{path}, a message on the queue
//                        humans: storage counter `humans`, metric human_requests
//   on_reload            drains the queue and logs what bots looked at since the last reload
//   on_server_stop       logs the totals
//
// Build: see plugins-example/build.js (asc --runtime stub --exportStart _initialize ...).
import { bext } from "../../../../sdk/assemblyscript/assembly/index";
export { bext_alloc, bext_dealloc } from "../../../../sdk/assemblyscript/assembly/index";

// Primitive globals only: every hook resets the heap (ok(true)), so no strings are kept here.
let drainedTotal: i64 = 0;

function queueName(): string {
  return bext.config_string("queue", "bot-hits");
}

export function bext_name(): i64 {
  return bext.name("bot-counter");
}

export function bext_priority(): i32 {
  return 500;
}

export function on_server_start(ptr: usize, len: i32): i64 {
  const config = bext.arg(ptr, len);
  const queue = bext.json_string(config, "queue", "bot-hits");
  bext.info("counting bots; each bot hit goes to queue " + queue);
  return bext.ok(true);
}

export function on_request_complete(ptr: usize, len: i32): i64 {
  const event = bext.arg(ptr, len);
  const path = bext.json_string(event, "path", "?");
  if (!bext.json_bool(event, "is_bot")) {
    bext.storage_add("humans", 1);
    bext.emit_metric("human_requests", 1);
    return bext.ok(true);
  }
  const bots = bext.storage_add("bots", 1);
  bext.emit_metric("bot_requests", 1, [["path", path]]);
  const message = "{\"path\":" + bext.json_quote(path) +
    ",\"status\":" + (<i32>bext.json_number(event, "status", 0)).toString() +
    ",\"n\":" + bots.toString() + "}";
  const queue = queueName();
  const rc = bext.queue_publish(queue, message);
  if (rc != bext.OK) {
    return bext.err("could not publish to queue " + queue + ": " + bext.strerror(rc) +
      " (is it listed in queue_names?)", true);
  }
  return bext.ok(true);
}

export function on_reload(): i64 {
  const queue = queueName();
  let n = 0;
  let paths = "";
  while (true) {
    const msg = bext.queue_consume(queue);
    if (msg === null) break;
    n++;
    if (n <= 10) paths += (n > 1 ? ", " : "") + bext.json_string(msg, "path", "?");
  }
  if (bext.lastError != bext.NOT_FOUND) {
    return bext.err("could not read queue " + queue + ": " + bext.strerror(bext.lastError), true);
  }
  drainedTotal += n;
  bext.emit_metric("bot_hits_drained", <f64>n);
  if (n > 0) bext.info(n.toString() + " bot hits since the last reload: " + paths + (n > 10 ? ", ..." : ""));
  return bext.ok(true);
}

export function on_server_stop(): i64 {
  const bots = bext.storage_get("bots");
  const humans = bext.storage_get("humans");
  bext.info("requests so far: " + (bots !== null ? bots : "0") + " from bots, " +
    (humans !== null ? humans : "0") + " from humans; " + drainedTotal.toString() + " bot hits reviewed this run");
  return bext.ok(true);
}
