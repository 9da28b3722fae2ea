package optjoin

// Join returns an option that applies opts in order and stops at the first
// error. P, the options type, is inferred from O, so it may be unexported.
func Join[O ~func(P) error, P any](opts ...O) O {
	return func(p P) error {
		for _, o := range opts {
			if err := o(p); err != nil {
				return err
			}
		}
		return nil
	}
}

// Fail returns an option that makes the constructor it is given to fail
// with err.
func Fail[O ~func(P) error, P any](err error) O {
	return func(P) error { return err }
}
