package daemon

import (
	"context"
	"os"
	"time"

	"github.com/godbus/dbus/v5"
)

// watchKeychainLock follows the Secret Service's own word that a
// collection changed (gnome-keyring and KWallet send CollectionChanged on
// the service and PropertiesChanged on the collection when it is locked
// or unlocked): the health record is refreshed at once, so a key the
// daemon holds in memory stops being handed out the moment the keychain is
// locked (not up to healthEvery later), and a key waiting in config.json
// for an unlock moves at once. Without a session bus there is nothing to
// follow; a lost connection is dialled again after a pause.
func (d *Daemon) watchKeychainLock(ctx context.Context) error {
	_ = d.health.check(ctx) // finds the bus (the /run/user fallback sets the address)
	for ctx.Err() == nil {
		addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
		if addr == "" || addr == "autolaunch:" {
			return nil
		}
		if err := d.followLockSignals(ctx, addr); err != nil && ctx.Err() == nil {
			d.log.Debug("following the Secret Service's lock signals", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
	return nil
}

func (d *Daemon) followLockSignals(ctx context.Context, addr string) error {
	conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, m := range [][]dbus.MatchOption{
		{dbus.WithMatchSender(secretsName), dbus.WithMatchInterface("org.freedesktop.Secret.Service"), dbus.WithMatchMember("CollectionChanged")},
		{dbus.WithMatchSender(secretsName), dbus.WithMatchInterface("org.freedesktop.DBus.Properties"), dbus.WithMatchMember("PropertiesChanged"), dbus.WithMatchPathNamespace(secretsPath)},
	} {
		if err := conn.AddMatchSignalContext(ctx, m...); err != nil {
			return err
		}
	}
	sig := make(chan *dbus.Signal, 16)
	conn.Signal(sig)
	for {
		select {
		case <-ctx.Done():
			return nil
		case s, ok := <-sig:
			if !ok || s == nil {
				return nil // the connection closed
			}
			d.health.refresh(ctx)
		}
	}
}

const (
	secretsName = "org.freedesktop.secrets"
	secretsPath = "/org/freedesktop/secrets"
)
