// Catches render errors of a part of the page and shows them in place, so one broken panel never
// blanks the whole app and the error is visible without opening the console.
import { Component, type ErrorInfo, type ReactNode } from 'react';
import { Button } from '../common/controls.tsx';

interface Props {
  /** Which part of the page this guards (shown in the message). */
  area: string;
  children: ReactNode;
}

interface State {
  error: Error | null;
}

export class ErrorBoundary extends Component<Props, State> {
  state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error(`[${this.props.area}]`, error, info.componentStack);
  }

  render() {
    if (this.state.error) {
      return (
        <div className="error-box" role="alert" data-testid="error-boundary">
          <strong>{this.props.area} failed:</strong> {this.state.error.message}
          <Button kind="small" onClick={() => this.setState({ error: null })}>
            Retry
          </Button>
        </div>
      );
    }
    return this.props.children;
  }
}
