module example.com/crcdemo/test

go 1.26
