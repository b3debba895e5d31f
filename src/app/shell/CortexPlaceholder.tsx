// Shown where the cortex view goes until src/app/cortex/index.tsx (owned by the cortex engineer) exists.
export function CortexPlaceholder() {
  return (
    <div className="placeholder" data-testid="cortex-placeholder">
      Cortical surface view not available in this build.
    </div>
  );
}
