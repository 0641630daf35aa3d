// The resolve hook behind register.js: '@honeytrap/sdk' and its subpaths are
// resolved as if imported from inside the SDK itself (a package may import
// itself by name through its "exports"), anything else as usual.
interface ResolveContext {
  parentURL?: string;
  conditions: string[];
  importAttributes: Record<string, string>;
}
interface ResolveResult {
  url: string;
  format?: string | null;
  shortCircuit?: boolean;
}
type NextResolve = (specifier: string, context?: ResolveContext) => Promise<ResolveResult>;

const insideSdk = new URL('../index.js', import.meta.url).href;

export async function resolve(
  specifier: string,
  context: ResolveContext,
  next: NextResolve,
): Promise<ResolveResult> {
  if (specifier === '@honeytrap/sdk' || specifier.startsWith('@honeytrap/sdk/'))
    return next(specifier, { ...context, parentURL: insideSdk });
  return next(specifier, context);
}
