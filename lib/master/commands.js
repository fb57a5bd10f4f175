'use strict';
// Runs the commands the Rust core hands to Node. Their set is a Rust enum exported as the
// discriminated union `JsCommand` (binding.d.ts); this switch is type-checked against it
// (__test__/types.test.mjs), so a command added in Rust and not handled here fails the
// check instead of vanishing.

/** @typedef {import('../../binding').JsCommand} JsCommand */
/**
 * One function per command kind.
 * @typedef {{ [K in JsCommand['kind']]: (command: Extract<JsCommand, { kind: K }>) => void }} Runners
 */

/**
 * Run `command` with the runner of its kind.
 * @param {JsCommand} command
 * @param {Runners} run
 * @returns {void}
 */
function dispatch(command, run) {
  switch (command.kind) {
    case 'fork':
      return run.fork(command);
    case 'drain':
      return run.drain(command);
    case 'settle':
      return run.settle(command);
    case 'send':
      return run.send(command);
    case 'notify':
      return run.notify(command);
    case 'exit':
      return run.exit(command);
    case 'ping':
      return run.ping(command);
    case 'heartbeat':
      return run.heartbeat(command);
    case 'isolate':
      return run.isolate(command);
    case 'persist':
      return run.persist(command);
    case 'handoff':
      return run.handoff(command);
    case 'release':
      return run.release(command);
    case 'unlisten':
      return run.unlisten(command);
    case 'checkupgrade':
      return run.checkupgrade(command);
    case 'exec':
      return run.exec(command);
    default: {
      /** @type {never} */
      const unknown = command;
      throw new TypeError(`master-process: unknown command ${JSON.stringify(unknown)}`);
    }
  }
}

module.exports = { dispatch };
