// The layering of docs/architecture.md, checked on every `npm test`: imports only point down
// this list, and nothing imports in a cycle.
const LAYERS = [
  ['shared', '^src/(log|format|errors|package)\\.ts$'],
  ['wasm', '^src/wasm/'],
  ['fuel', '^src/fuel/'],
  ['config', '^src/config/'],
  ['runtime', '^src/runtime/'],
  ['host', '^src/host/'],
  ['plugins', '^src/plugins/'],
  ['stats', '^src/stats/'],
  ['server', '^src/server/'],
  ['cli', '^src/cli/'],
];

const upward = LAYERS.flatMap(([name, from], i) =>
  LAYERS.slice(i + 1).map(([above, to]) => ({
    name: `${name}-not-to-${above}`,
    comment: `${name} sits below ${above} (docs/architecture.md): it must not import it`,
    severity: 'error',
    from: { path: from },
    to: { path: to },
  })),
);

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } } },
    {
      name: 'src-is-layered',
      comment: 'every file under src/ belongs to one layer of docs/architecture.md',
      severity: 'error',
      from: { path: '^src/', pathNot: LAYERS.map(([, p]) => p) },
      to: {},
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
