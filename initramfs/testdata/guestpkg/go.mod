module example.com/guestpkg

go 1.26
