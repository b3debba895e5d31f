// Errors nobody else caught (unhandled promise rejections, window errors): shown in the page's
// error banner so they are never only in the console.
import { create } from 'zustand';
import { toAppError, type AppError } from './bundleStore.ts';

export interface ErrorState {
  errors: AppError[];
  report(context: string, e: unknown): void;
  dismiss(index: number): void;
}

export const useErrorStore = create<ErrorState>()((set) => ({
  errors: [],
  report(context, e) {
    set((s) => ({ errors: [...s.errors.slice(-4), toAppError(context, e)] }));
  },
  dismiss(index) {
    set((s) => ({ errors: s.errors.filter((_, i) => i !== index) }));
  },
}));
