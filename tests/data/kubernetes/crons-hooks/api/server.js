// the api app's source folder
