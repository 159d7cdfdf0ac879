/**
 * The command-line adapter: parses flags with commander and hands them to one command module.
 * Command modules are imported lazily so `bext --help` loads nothing heavy (the instrumenter, sqlite, undici).
 */
import { Command, CommanderError, Option } from 'commander';
import { BextError, EXIT_RUNTIME, EXIT_USAGE, isBextError } from '../errors.js';
import { checkLogLevels } from '../log.js';
import { packageVersion } from '../package.js';
import { sourceStack } from './source-stack.js';

const pkg = { version: packageVersion() };

export interface GlobalOptions {
  /** -c FILE; absent: the nearest bext.config.toml from the working folder up (src/config). */
  config?: string;
}

// Each command module declares its own argument types; commander passes them through untyped.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Run = (...args: any[]) => Promise<number | void>;

/** Runs a command module's `run` and turns its result into the process exit code. */
function lazy(load: () => Promise<{ run: Run }>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const mod = await load();
    const code = await mod.run(...args);
    if (typeof code === 'number') process.exitCode = code;
  };
}

function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export function buildProgram(): Command {
  const program = new Command('bext');
  program
    .description('A dev server that runs fuel-metered WebAssembly plugins beside your site.')
    .version(pkg.version, '-V, --version', 'print the bext version')
    // -v was the version flag before -V (the common spelling); it still works.
    .addOption(new Option('-v').hideHelp())
    .addOption(new Option('-c, --config <file>', 'config file (default: the nearest bext.config.toml here or in a parent folder)'))
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  $ bext init my-site                      scaffold a config and a site
  $ bext new plugin hello --lang c         a plugin project, built on save by bext dev
  $ bext dev                               serve ./public with the plugins in ./bext.config.toml
  $ bext dev -p 8080 --check               validate the config and print it resolved
  $ bext plugin stats my-analytics         fuel and time per hook, live or persisted
  $ bext plugin run my-analytics on_reload run one hook outside the server
  $ BEXT_PLUGIN_LOG=debug bext dev         show everything plugins log

Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.
Docs: docs/getting-started.md, docs/config.md, docs/abi.md, docs/fuel.md, docs/debugging.md`,
    );

  program.on('option:v', () => {
    process.stdout.write(`${pkg.version}\n`);
    throw new CommanderError(0, 'commander.version', pkg.version);
  });
  // Before any command runs (not for --help or --version): settings it would otherwise misread.
  program.hook('preAction', () => checkLogLevels());

  program
    .command('version')
    .description('print the bext version')
    .action(() => {
      process.stdout.write(`${pkg.version}\n`);
    });

  program
    .command('dev')
    .description('serve the site, load plugins, run hooks, hot-reload on change')
    .option('-p, --port <port>', 'port to listen on (overrides server.port)')
    .option('--host <host>', 'address to bind (overrides server.host)')
    .option('--check', 'validate the config, check every plugin module loads, print it resolved, and exit')
    .option('--no-plugins', 'with --check: check the config alone, not the plugin modules')
    .option('--no-watch', 'do not hot-reload on file changes')
    .action(async function (this: Command, opts: Record<string, unknown>) {
      const all = { ...globals(this), ...opts };
      if (opts.check) return lazy(() => import('./commands/check.js'))(all);
      if (opts.plugins === false) throw new BextError('usage', '--no-plugins only applies with --check');
      return lazy(() => import('./commands/dev.js'))(all);
    });

  program
    .command('init [dir]')
    .description('scaffold a bext.config.toml and a public/ site')
    .option('--force', 'overwrite files that already exist')
    .action(async function (this: Command, dir: string | undefined, opts: Record<string, unknown>) {
      return lazy(() => import('./commands/init.js'))(dir, { ...globals(this), ...opts });
    });

  program
    .command('new <kind> <name>')
    .description('create a plugin project (kind: plugin) that builds with the bundled SDK, and add it to the config')
    .requiredOption('--lang <lang>', 'rust, c or assemblyscript')
    .option('--hooks <list>', 'hooks to implement, comma-separated (default: on_server_start,on_request_complete)')
    .option('--dir <dir>', 'where to create it (default: plugins/NAME beside bext.config.toml)')
    .option('--dry-run', 'print the files and the config entry; write nothing')
    .addHelpText(
      'after',
      `
Examples:
  $ bext new plugin hello --lang c
  $ bext new plugin stats --lang rust --hooks on_request_complete,cleanup
  $ bext new plugin bots --lang assemblyscript --dry-run`,
    )
    .action(async function (this: Command, kind: string, name: string, opts: Record<string, unknown>) {
      return lazy(() => import('./commands/new.js'))(kind, name, { ...globals(this), ...opts });
    });

  program
    .command('build [names...]')
    .description('run the [plugins.NAME.build] commands once (all, or the named plugins); exit 1 if one fails')
    .action(async function (this: Command, names: string[], opts: Record<string, unknown>) {
      return lazy(() => import('./commands/build.js'))(names, { ...globals(this), ...opts });
    });

  const config = program.command('config').description('work with bext.config.toml');
  config
    .command('check')
    .description('validate the config, check every enabled plugin module loads, print it resolved')
    .option('--json', 'print the resolved config as JSON')
    .option('--no-plugins', 'check the config alone, not the plugin modules')
    .option('-p, --port <port>', 'override server.port in the printed config')
    .option('--host <host>', 'override server.host in the printed config')
    .action(async function (this: Command, opts: Record<string, unknown>) {
      return lazy(() => import('./commands/check.js'))({ ...globals(this), ...opts });
    });

  const plugin = program.command('plugin').description('inspect, run and profile plugins');
  plugin
    .command('stats [name]')
    .description('per-hook calls, outcomes, fuel and time (live from the server, else persisted)')
    .option('--json', 'print one JSON object')
    .option('--since <when>', 'only calls since a time (ISO date or 10m, 2h, 1d ago)')
    .option('--reset', 'clear persisted stats (for NAME, or all)')
    .option('--url <url>', 'the dev server to ask (default: .bext/server.json, else the configured port)')
    .action(async function (this: Command, name: string | undefined, opts: Record<string, unknown>) {
      return lazy(() => import('./commands/stats.js'))(name, { ...globals(this), ...opts });
    });
  plugin
    .command('list')
    .description('configured plugins: path, state, priority, hooks, budgets')
    .option('--json', 'print JSON')
    .option('--url <url>', 'the dev server to ask (default: .bext/server.json, else the configured port)')
    .action(async function (this: Command, opts: Record<string, unknown>) {
      return lazy(() => import('./commands/list.js'))({ ...globals(this), ...opts });
    });
  plugin
    .command('inspect <plugin>')
    .description('imports, exports, hooks and ABI problems of a module (plugin = .wasm file or configured name)')
    .option('--json', 'print JSON')
    .action(async function (this: Command, target: string, opts: Record<string, unknown>) {
      return lazy(() => import('./commands/inspect.js'))(target, { ...globals(this), ...opts });
    });
  plugin
    .command('run <plugin> <hook>')
    .description('run one hook outside the server (plugin = .wasm file or configured name)')
    .option('-i, --input <json>', 'hook input as JSON, or @file')
    .option('--fuel <n>', 'fuel budget (default: the hook\'s budget)')
    .option('--json', 'print one JSON object')
    .option('--profile', 'run the profiling build: also show fuel per function and write a flame graph')
    .addHelpText(
      'after',
      `
Examples:
  $ bext plugin run ./plugin.wasm on_request_complete --input '{"path":"/"}'
  $ bext plugin run my-analytics on_server_start --fuel 1000000 --json`,
    )
    .action(async function (this: Command, target: string, hook: string, opts: Record<string, unknown>) {
      return lazy(() => import('./commands/run.js'))(target, hook, { ...globals(this), ...opts });
    });
  plugin
    .command('profile <plugin> <hook>')
    .description('where a hook\'s fuel goes: exact fuel per function, and a flame graph file')
    .option('-i, --input <json>', 'hook input as JSON, or @file')
    .option('--calls <n>', 'profile this many calls and add them up', '1')
    .option('--fuel <n>', 'fuel budget per call (default: the hook\'s budget)')
    .option('-o, --output <file>', 'write only this file: .folded/.txt = folded stacks, else speedscope JSON')
    .option('--top <n>', 'functions shown in the table', '20')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      `
Writes .bext/profiles/PLUGIN-HOOK-TIME.speedscope.json (https://www.speedscope.app) and .folded
(flamegraph.pl, inferno-flamegraph) unless -o names one file. Live traffic: BEXT_PROFILE (docs/debugging.md).

Examples:
  $ bext plugin profile ./plugin.wasm on_request_complete --input @event.json
  $ bext plugin profile my-analytics on_request_complete --calls 20 -o analytics.folded`,
    )
    .action(async function (this: Command, target: string, hook: string, opts: Record<string, unknown>) {
      return lazy(() => import('./commands/profile.js'))(target, hook, { ...globals(this), ...opts });
    });
  plugin
    .command('instrument <in>')
    .description('write the fuel-instrumented module')
    .requiredOption('-o, --output <file>', 'where to write the instrumented .wasm')
    .option('--fuel <n>', 'initial value of the exported bext_fuel global')
    .action(async function (this: Command, input: string, opts: Record<string, unknown>) {
      return lazy(() => import('./commands/instrument.js'))(input, { ...globals(this), ...opts });
    });
  plugin
    .command('storage [name]')
    .description('list, read or clear a plugin\'s stored keys; --recover salvages a damaged state.db')
    .option('--get <key>', 'print one value (text gets a final newline; other bytes print exactly)')
    .option('--raw', 'with --get: print the value\'s bytes exactly, no newline added')
    .option('--clear', 'delete every key of this plugin')
    .option('--recover [file]', 'copy what can be read from a damaged state.db (default: the newest set aside) into the current one')
    .option('--json', 'print JSON')
    .action(async function (this: Command, name: string | undefined, opts: Record<string, unknown>) {
      return lazy(() => import('./commands/storage.js'))(name, { ...globals(this), ...opts });
    });

  return program;
}

/** Prints an error the way every bext command does: one clear line first, details after. */
export function reportError(err: unknown): number {
  if (isBextError(err)) {
    process.stderr.write(`bext: ${err.message}\n`);
    for (const line of err.details) process.stderr.write(`${line}\n`);
    return err.exitCode;
  }
  const e = err as Error;
  process.stderr.write(`bext: internal error: ${e?.stack ? sourceStack(e.stack) : String(err)}\n`);
  return EXIT_RUNTIME;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  // Subcommands copy these settings only when created, so apply them to every command: a usage
  // error in a subcommand (unknown option, extra argument) must exit 2 like one at the top.
  const everyCommand = (cmd: Command): Command[] => [cmd, ...cmd.commands.flatMap(everyCommand)];
  for (const cmd of everyCommand(program)) {
    cmd.exitOverride();
    cmd.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  }
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) {
        process.exitCode = 0;
        return;
      }
      process.exitCode = EXIT_USAGE;
      return;
    }
    process.exitCode = reportError(err);
  }
}

export { BextError };
