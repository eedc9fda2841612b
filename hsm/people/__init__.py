"""The school's people: who a phone number is, what each role may do, linking a new number, opt-outs."""
