package store

import "context"

func (s *Store) migratePG(ctx context.Context) error { return nil }
