"""Classes: schedules, a teacher's day, attendance (text, roster matching, drafts, overrides), leave, and what a
family asks about its classes."""
