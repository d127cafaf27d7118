// Daub's window: the chat (messages over the composer, the whole of it a
// drop zone) on the left, the options on the right, the welcome panel
// until a model is loaded. Presentation only: it binds to ChatController
// and AppSettings and calls their invokables.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtQuick.Dialogs
import Daub.App

ApplicationWindow {
    id: window
    objectName: "mainWindow"
    width: 1180
    height: 780
    minimumWidth: 760
    minimumHeight: 520
    visible: true
    title: ModelController.modelName !== "" ? "Daub \u2014 " + ModelController.modelName : "Daub"
    color: Theme.window

    Binding { target: Theme; property: "dark"; value: AppSettings.dark }

    palette.window: Theme.window
    palette.windowText: Theme.text
    palette.base: Theme.base
    palette.alternateBase: Theme.sunken
    palette.text: Theme.text
    palette.button: Theme.button
    palette.buttonText: Theme.text
    palette.brightText: Theme.accentText
    palette.highlight: Theme.accent
    palette.highlightedText: Theme.accentText
    palette.placeholderText: Theme.faintText
    palette.toolTipBase: Theme.raised
    palette.toolTipText: Theme.text
    palette.light: Theme.dark ? "#45474f" : "#ffffff"
    palette.midlight: Theme.dark ? "#3a3c42" : "#e8e8ee"
    palette.mid: Theme.dark ? "#2c2e33" : "#c9c9d2"
    palette.dark: Theme.dark ? "#16171a" : "#a0a0aa"
    palette.shadow: Theme.dark ? "#000000" : "#70707a"

    readonly property bool hasModel: ModelController.modelState === ModelController.Ready
    property bool optionsVisible: true
    /// The gallery covers the chat (Ctrl+G, the Gallery button; Esc returns).
    property bool galleryOpen: false

    /// Writes a result to a temporary file for dragging it out.
    function exportForDrag(jobId) { return ChatController.exportForDrag(jobId) }

    // Ctrl+Q quits; Esc stops the running job.
    Shortcut {
        sequences: [StandardKey.Quit]
        onActivated: window.close()
    }
    Shortcut {
        sequence: "Esc"
        enabled: ChatController.queue.busy && !window.galleryOpen
        onActivated: ChatController.cancelRunningSend() // and the rest of its batch
    }

    // Ctrl+S saves the selected result (the newest one when none is
    // selected) into the save folder.
    Shortcut {
        sequences: [StandardKey.Save]
        onActivated: {
            const id = chatView.selectedJob >= 0 ? chatView.selectedJob : ChatController.latestResult()
            if (id < 0)
                return
            const path = ChatController.saveResult(id)
            if (path !== "")
                toast.show(qsTr("Saved to %1").arg(path))
        }
    }

    // Ctrl+G shows the gallery, and the chat again.
    Shortcut {
        sequence: "Ctrl+G"
        onActivated: window.galleryOpen = !window.galleryOpen
    }

    // Ctrl+V anywhere but in a text field (the composer handles its own).
    Shortcut {
        sequences: [StandardKey.Paste]
        onActivated: InitImageIntake.pasteImage()
    }

    RowLayout {
        anchors.fill: parent
        spacing: 0

        ChatDropzone {
            id: dropzone
            objectName: "chatDropzone"
            Layout.fillWidth: true
            Layout.fillHeight: true
            onImageDropped: (drop) => InitImageIntake.dropImage(drop)

            ColumnLayout {
                anchors.fill: parent
                spacing: 0

                // Header: what is loaded, and the panel toggle.
                Rectangle {
                    Layout.fillWidth: true
                    Layout.preferredHeight: 48
                    color: Theme.panel
                    Rectangle { anchors.bottom: parent.bottom; width: parent.width; height: 1; color: Theme.border }
                    RowLayout {
                        anchors.fill: parent
                        anchors.leftMargin: 16
                        anchors.rightMargin: 8
                        spacing: 10
                        Image { source: "qrc:/daub/icons/daub.svg"; sourceSize: Qt.size(24, 24) }
                        Label { text: "Daub"; font.pixelSize: 17; font.weight: Font.DemiBold; color: Theme.text }
                        Rectangle {
                            visible: ModelController.modelState !== ModelController.NoModel
                            Layout.leftMargin: 6
                            implicitWidth: chip.implicitWidth + 20
                            implicitHeight: 26
                            radius: 13
                            color: Theme.sunken
                            RowLayout {
                                id: chip
                                anchors.centerIn: parent
                                spacing: 6
                                Rectangle {
                                    width: 8; height: 8; radius: 4
                                    color: ModelController.modelState === ModelController.Ready ? Theme.success
                                         : ModelController.modelState === ModelController.Failed ? Theme.danger : Theme.accent
                                }
                                Label {
                                    objectName: "modelChip"
                                    text: ModelController.modelState === ModelController.Loading ? qsTr("Loading %1\u2026").arg(ModelController.modelPath.split("/").pop())
                                        : ModelController.modelState === ModelController.Ready ? ModelController.modelName + " \u00b7 " + ModelController.modelFamily
                                        : qsTr("No model")
                                    color: Theme.mutedText
                                    font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                                }
                            }
                        }
                        Item { Layout.fillWidth: true }
                        Label {
                            visible: ChatController.queue.busy || ChatController.queue.waitingCount > 0
                            text: ChatController.queue.waitingCount > 0
                                  ? qsTr("%n waiting", "", ChatController.queue.waitingCount) : qsTr("Working")
                            color: Theme.mutedText
                            font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                        }
                        ToolButton {
                            objectName: "cancelAllButton"
                            visible: ChatController.queue.busy || ChatController.queue.waitingCount > 0
                            icon.source: "qrc:/daub/icons/stop.svg"
                            icon.color: Theme.mutedText
                            onClicked: ChatController.queue.cancelAll()
                            ToolTip.visible: hovered
                            ToolTip.text: qsTr("Cancel all jobs (Esc stops the running one)")
                        }
                        ToolButton {
                            objectName: "galleryButton"
                            text: qsTr("Gallery")
                            icon.source: "qrc:/daub/icons/gallery.svg"
                            icon.color: Theme.mutedText
                            icon.width: 18
                            icon.height: 18
                            onClicked: window.galleryOpen = true
                            ToolTip.visible: hovered
                            ToolTip.text: qsTr("Every image you made (Ctrl+G)")
                        }
                        ToolButton {
                            objectName: "settingsButton"
                            icon.source: "qrc:/daub/icons/settings.svg"
                            icon.color: Theme.mutedText
                            onClicked: settingsDialog.open()
                            ToolTip.visible: hovered
                            ToolTip.text: qsTr("Settings")
                        }
                        ToolButton {
                            objectName: "aboutButton"
                            icon.source: "qrc:/daub/icons/info.svg"
                            icon.color: Theme.mutedText
                            onClicked: aboutDialog.open()
                            ToolTip.visible: hovered
                            ToolTip.text: qsTr("About Daub")
                        }
                        ToolButton {
                            icon.source: Theme.dark ? "qrc:/daub/icons/sun.svg" : "qrc:/daub/icons/moon.svg"
                            icon.color: Theme.mutedText
                            onClicked: AppSettings.theme = Theme.dark ? "light" : "dark"
                            ToolTip.visible: hovered
                            ToolTip.text: Theme.dark ? qsTr("Light theme") : qsTr("Dark theme")
                        }
                        ToolButton {
                            icon.source: "qrc:/daub/icons/sliders.svg"
                            icon.color: window.optionsVisible ? Theme.accent : Theme.mutedText
                            checkable: true
                            checked: window.optionsVisible
                            onToggled: window.optionsVisible = checked
                            ToolTip.visible: hovered
                            ToolTip.text: qsTr("Options")
                        }
                    }
                }

                Item {
                    Layout.fillWidth: true
                    Layout.fillHeight: true

                    ChatView {
                        id: chatView
                        objectName: "chatView"
                        anchors.fill: parent
                        model: ChatController.messages
                        hasOlder: ChatController.hasOlderMessages
                        onOlderRequested: ChatController.loadOlder()
                        exportForDrag: window.exportForDrag
                        onCancelRequested: (id) => ChatController.cancel(id)
                        onSaveRequested: (id) => {
                            const path = ChatController.saveResult(id)
                            if (path !== "")
                                toast.show(qsTr("Saved to %1").arg(path))
                        }
                        onCopyRequested: (id) => { if (ChatController.copyResult(id)) toast.show(qsTr("Image copied")) }
                        onUseAsInitRequested: (id) => ChatController.useResultAsInit(id)
                        onRerunRequested: (id) => ChatController.rerun(id)
                        onUpscaleRequested: (id) => ChatController.upscaleResult(id)
                        onRefineRequested: (id) => ChatController.refineResult(id)
                        onSaveAsRequested: (id) => {
                            saveAsDialog.saveAs(id)
                        }
                        onViewRequested: (id, source, w, h) => viewer.show(source, w, h)
                        onParametersRequested: (id) => {
                            parametersDialog.parameters = ChatController.parametersOf(id)
                            parametersDialog.open()
                        }
                        onUseParameters: (p) => ChatController.applyParameters(p)
                    }

                    // An empty chat with a model: a hint.
                    Column {
                        anchors.centerIn: parent
                        visible: chatView.count === 0 && window.hasModel
                        spacing: 8
                        Label {
                            anchors.horizontalCenter: parent.horizontalCenter
                            text: qsTr("What should Daub paint?")
                            font.pixelSize: 20
                            color: Theme.mutedText
                        }
                        Label {
                            anchors.horizontalCenter: parent.horizontalCenter
                            text: qsTr("Write a prompt below. Drop or paste an image to start from it.")
                            color: Theme.faintText
                        }
                    }

                    WelcomePanel {
                        id: welcome
                        objectName: "welcomePanel"
                        anchors.fill: parent
                        // Until a model is loaded (a later model switch keeps the chat in view).
                        visible: ModelController.modelState === ModelController.NoModel
                                 || ModelController.modelState === ModelController.Failed
                                 || (ModelController.modelState === ModelController.Loading && chatView.count === 0)
                        foundModels: ModelController.foundModels
                        scanning: ModelController.scanning
                        loading: ModelController.modelState === ModelController.Loading
                        error: ModelController.modelState === ModelController.Failed ? ModelController.modelError : ""
                        onPickModelFile: modelFileDialog.open()
                        onPickModelFolder: modelFolderDialog.open()
                        onModelChosen: (path) => ModelController.loadModel(path)
                        onRescan: ModelController.scanForModels()
                    }
                }

                Composer {
                    id: composer
                    objectName: "composer"
                    Layout.fillWidth: true
                    prompt: AppSettings.prompt
                    negativePrompt: AppSettings.negativePrompt
                    negativeExpanded: AppSettings.negativeExpanded
                    canSend: ModelController.modelState === ModelController.Ready
                             || ModelController.modelState === ModelController.Loading
                    pasteImage: function() { return InitImageIntake.clipboardHasImage() && InitImageIntake.pasteImage() }
                    tokenCounter: ModelController.modelState === ModelController.Ready
                                  ? function(text) { return ModelController.tokenCount(text) } : null
                    summary: {
                        const w = AppSettings.width > 0 ? AppSettings.width : ModelController.modelWidth
                        const h = AppSettings.height > 0 ? AppSettings.height : ModelController.modelHeight
                        let s = w + "\u00d7" + h + " \u00b7 " + qsTr("%n steps", "", AppSettings.steps)
                        if (InitImageIntake.hasInitImage)
                            s += " \u00b7 " + qsTr("from image, strength %1").arg(AppSettings.strength.toFixed(2))
                        return s
                    }
                    onPromptEdited: (text) => AppSettings.prompt = text
                    onNegativePromptEdited: (text) => AppSettings.negativePrompt = text
                    onNegativeToggled: (expanded) => AppSettings.negativeExpanded = expanded
                    onSendRequested: (prompt, negative) => ChatController.send(prompt, negative)
                }
            }
        }

        Rectangle {
            visible: window.optionsVisible
            Layout.fillHeight: true
            Layout.preferredWidth: 1
            color: Theme.border
        }

        OptionsPanel {
            id: options
            objectName: "optionsPanel"
            visible: window.optionsVisible
            Layout.fillHeight: true
            Layout.preferredWidth: Theme.panelWidth
            settings: AppSettings
            chat: ChatController
            models: ModelController
            intake: InitImageIntake
            onPickModelFile: modelFileDialog.open()
            onPickModelFolder: modelFolderDialog.open()
            onPickSaveFolder: saveFolderDialog.open()
            onModelChosen: (path) => ModelController.loadModel(path)
            onPasteRequested: {
                if (!InitImageIntake.pasteImage())
                    toast.show(qsTr("The clipboard holds no image"))
            }
            onDiceRequested: {
                AppSettings.seed = ChatController.randomSeed()
                AppSettings.seedLocked = true
            }
            onRemoveInitImage: InitImageIntake.clearInitImage()
            onPickVaeFile: vaeFileDialog.open()
            onPickUpscalerFile: upscalerFileDialog.open()
            onUpscaleInitRequested: ChatController.upscaleInitImage()
        }
    }

    GalleryView {
        id: gallery
        objectName: "galleryView"
        anchors.fill: parent
        visible: window.galleryOpen
        onCloseRequested: window.galleryOpen = false
        onSaveAsRequested: (id) => {
            saveAsDialog.saveAs(id)
        }
        onViewRequested: (source, w, h) => viewer.show(source, w, h)
        onSettingsRequested: settingsDialog.open()
        onNotify: (text) => toast.show(text)
    }
    SettingsDialog {
        id: settingsDialog
        objectName: "settingsDialog"
        onNotify: (text) => toast.show(text)
    }

    FileDialog {
        id: modelFileDialog
        title: qsTr("Choose a model file")
        nameFilters: [qsTr("Stable Diffusion checkpoints (*.safetensors *.ckpt)"), qsTr("All files (*)")]
        onAccepted: ModelController.loadModel(selectedFile)
    }
    FileDialog {
        id: vaeFileDialog
        title: qsTr("Choose a VAE for this model")
        nameFilters: [qsTr("VAE files (*.safetensors *.ckpt *.pth *.pt)"), qsTr("All files (*)")]
        onAccepted: ModelController.setModelVae(selectedFile)
    }
    FileDialog {
        id: upscalerFileDialog
        title: qsTr("Choose an upscaler (Real-ESRGAN)")
        nameFilters: [qsTr("Upscalers (*.pth *.pt *.safetensors)"), qsTr("All files (*)")]
        onAccepted: ModelController.setUpscaler(selectedFile)
    }
    FolderDialog {
        id: modelFolderDialog
        title: qsTr("Choose a diffusers model folder")
        onAccepted: ModelController.loadModel(selectedFolder)
    }
    FolderDialog {
        id: saveFolderDialog
        title: qsTr("Choose where to save images")
        onAccepted: AppSettings.saveFolder = decodeURIComponent(selectedFolder.toString().replace(/^file:\/\//, ""))
    }
    ParametersDialog {
        id: parametersDialog
    }
    FileDialog {
        id: saveAsDialog
        property int jobId: -1
        title: qsTr("Save the image as")
        fileMode: FileDialog.SaveFile
        objectName: "saveAsDialog"
        acceptLabel: qsTr("Save")
        /// Opens on a name to start from: the prompt's first words and the seed.
        function saveAs(id) {
            jobId = id
            selectedFile = ChatController.suggestedSaveUrl(id)
            open()
        }
        defaultSuffix: "png"
        nameFilters: [qsTr("PNG images (*.png)")]
        currentFolder: AppSettings.saveFolderUrl
        onAccepted: {
            if (ChatController.saveResultAs(jobId, selectedFile))
                toast.show(qsTr("Saved"))
        }
    }
    ImageViewer {
        id: viewer
        objectName: "imageViewer"
    }
    AboutDialog {
        id: aboutDialog
        objectName: "aboutDialog"
        notices: ModelController.licenseNotices()
    }

    // A short confirmation at the bottom of the chat.
    ToolTip {
        id: toast
        objectName: "toast"
        function show(text) {
            toast.text = text
            toast.open()
        }
        timeout: 2500
        x: (dropzone.width - width) / 2
        y: window.height - 150
    }
}
