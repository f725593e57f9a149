import { safeEqual } from "./secrets.ts";

export interface SetupState {
  required: boolean;
  open: boolean;
  openUntil: Date | undefined;
}

/**
 * Guards creation of the first admin: only while no user exists, only within the window after
 * process start, and only with the setup token. A restart opens a new window.
 */
export class SetupGate {
  readonly openUntil: Date;
  constructor(
    private readonly token: string,
    startedAt: number,
    windowMs: number,
  ) {
    this.openUntil = new Date(startedAt + windowMs);
  }

  state(userCount: number, now: number): SetupState {
    const required = userCount === 0;
    return {
      required,
      open: required && now < this.openUntil.getTime(),
      openUntil: required ? this.openUntil : undefined,
    };
  }

  tokenMatches(candidate: string): boolean {
    return safeEqual(candidate, this.token);
  }
}
