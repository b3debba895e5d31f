// Types of eslint/layers.js for the TypeScript test that checks the rule.
export declare const LAYERS: ReadonlyArray<{ layer: string; may: string[] }>;
export declare function layerOf(rel: string): string | null;
declare const plugin: { rules: Record<string, unknown> };
export default plugin;
