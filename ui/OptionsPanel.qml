// Everything a generation uses besides the prompt: the model, the init
// image with its strength, size, steps, CFG, seed, sampler, CLIP skip and
// super-resolution (upscaler, level, refine); then where images are saved
// and the theme. Values are
// read from and written to `settings` (AppSettings); model facts come from
// `models` (ModelController), the init image from `intake`
// (InitImageIntake), the step count from `chat` (ChatController). All are
// plain objects with those properties, so tests can hand in stand-ins.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Pane {
    id: root

    /// AppSettings (or a stand-in with its properties).
    property QtObject settings
    /// ChatController (or a stand-in): stepsToRun().
    property QtObject chat
    /// ModelController (or a stand-in): modelState (0 none, 1 loading, 2
    /// ready, 3 failed), modelName, sizePresets, samplers, the upscaler...
    property QtObject models
    /// InitImageIntake (or a stand-in): the init image.
    property QtObject intake

    signal pickModelFile()
    signal pickModelFolder()
    signal pickSaveFolder()
    signal modelChosen(string path)
    signal pasteRequested()
    signal diceRequested()
    signal removeInitImage()
    signal pickVaeFile()
    signal pickUpscalerFile()
    signal upscaleInitRequested()

    readonly property int effectiveWidth: settings && settings.width > 0 ? settings.width : (models ? models.modelWidth : 512)
    readonly property int effectiveHeight: settings && settings.height > 0 ? settings.height : (models ? models.modelHeight : 512)
    readonly property alias strengthSlider: strength
    readonly property alias initPreview: initPreview
    readonly property alias sizeCombo: sizeCombo
    readonly property alias widthBox: widthBox
    readonly property alias heightBox: heightBox

    /// The preset index matching the settings' size, or the last ("Custom").
    function presetIndex() {
        if (!models || !settings)
            return 0
        const presets = models.sizePresets
        for (let i = 0; i < presets.length; ++i)
            if (presets[i].width === settings.width && presets[i].height === settings.height)
                return i
        return presets.length
    }
    /// Rounds to a multiple of 8 within 64-4096.
    function snap8(v) { return Math.max(64, Math.min(4096, Math.round(v / 8) * 8)) }

    padding: 0
    background: Rectangle { color: Theme.panel }

    component SectionTitle: Label {
        Layout.fillWidth: true
        Layout.topMargin: 10
        font.weight: Font.DemiBold
        font.capitalization: Font.AllUppercase
        font.letterSpacing: 0.6
        font.pointSize: Qt.application.font.pointSize * 0.78
        color: Theme.faintText
    }
    component FieldLabel: Label {
        color: Theme.mutedText
        Layout.alignment: Qt.AlignVCenter
    }

    ScrollView {
        id: scroll
        anchors.fill: parent
        contentWidth: availableWidth
        clip: true

        ColumnLayout {
            width: scroll.availableWidth
            spacing: 8

            ColumnLayout {
                Layout.fillWidth: true
                Layout.margins: 16
                spacing: 8

                // ---- model ------------------------------------------------
                SectionTitle { text: qsTr("Model"); Layout.topMargin: 0 }
                ComboBox {
                    id: modelCombo
                    objectName: "modelCombo"
                    Layout.fillWidth: true
                    // ModelController's menu: the recent models, then those
                    // found on disk by place.
                    readonly property var entries: root.models && root.models.modelMenu ? root.models.modelMenu : []
                    model: entries
                    textRole: "label"
                    displayText: root.models && root.models.modelName !== "" ? root.models.modelName
                               : root.models && root.models.modelState === 1 ? qsTr("Loading\u2026")
                               : qsTr("No model")
                    delegate: ItemDelegate {
                        required property var modelData
                        required property int index
                        objectName: "modelEntry"
                        width: ListView.view ? ListView.view.width : 200
                        text: modelData.label
                        // The place heads each group of the list.
                        readonly property bool firstOfPlace: index === 0
                            || modelCombo.entries[index - 1].place !== modelData.place
                        contentItem: RowLayout {
                            spacing: 8
                            Label {
                                Layout.fillWidth: true
                                text: modelData.name
                                elide: Text.ElideMiddle
                                color: Theme.text
                            }
                            Label {
                                visible: firstOfPlace || modelData.label !== modelData.name
                                text: modelData.place
                                color: Theme.faintText
                                font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                            }
                        }
                        ToolTip.visible: hovered
                        ToolTip.delay: 600
                        ToolTip.text: modelData.path
                    }
                    onActivated: (index) => root.modelChosen(entries[index].path)
                }
                RowLayout {
                    Layout.fillWidth: true
                    Button {
                        Layout.fillWidth: true
                        text: qsTr("Open file\u2026")
                        icon.source: "qrc:/daub/icons/file.svg"
                        icon.color: Theme.text
                        icon.width: 16
                        icon.height: 16
                        onClicked: root.pickModelFile()
                        ToolTip.visible: hovered
                        ToolTip.delay: 600
                        ToolTip.text: qsTr("A single .safetensors checkpoint")
                    }
                    Button {
                        Layout.fillWidth: true
                        text: qsTr("Open folder\u2026")
                        icon.source: "qrc:/daub/icons/folder.svg"
                        icon.color: Theme.text
                        icon.width: 16
                        icon.height: 16
                        onClicked: root.pickModelFolder()
                        ToolTip.visible: hovered
                        ToolTip.delay: 600
                        ToolTip.text: qsTr("A diffusers folder (with model_index.json)")
                    }
                }
                RowLayout {
                    Layout.fillWidth: true
                    spacing: 6
                    BusyIndicator {
                        visible: root.models && root.models.modelState === 1
                        running: visible
                        Layout.preferredWidth: 20
                        Layout.preferredHeight: 20
                    }
                    Label {
                        id: modelStatus
                        objectName: "modelStatus"
                        Layout.fillWidth: true
                        wrapMode: Text.Wrap
                        font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                        // A file refused while a model stays loaded: its sentence, in red.
                        readonly property bool refused: root.models && root.models.modelState === 2
                                                        && root.models.modelError !== ""
                        color: root.models && (root.models.modelState === 3 || refused) ? Theme.danger : Theme.mutedText
                        text: !root.models ? ""
                            : root.models.modelState === 1 ? qsTr("Loading the model\u2026")
                            : refused ? root.models.modelError
                            : root.models.modelState === 2 ? root.models.modelFamily + " \u00b7 " + root.models.modelDevice
                            : root.models.modelState === 3 ? root.models.modelError
                            : qsTr("Pick a model to start.")
                    }
                }
                // Loading: how far, and a way out.
                RowLayout {
                    Layout.fillWidth: true
                    visible: root.models ? root.models.modelState === 1 : false
                    ProgressBar {
                        objectName: "modelLoadProgress"
                        Layout.fillWidth: true
                        from: 0; to: 1
                        value: root.models ? root.models.modelLoadProgress : 0
                    }
                    Label {
                        text: root.models ? Math.round(root.models.modelLoadProgress * 100) + " %" : ""
                        color: Theme.mutedText
                        font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                    }
                    ToolButton {
                        objectName: "cancelLoadButton"
                        icon.source: "qrc:/daub/icons/stop.svg"
                        icon.color: Theme.mutedText
                        onClicked: root.models.cancelModelLoad()
                        ToolTip.visible: hovered
                        ToolTip.text: qsTr("Stop loading")
                    }
                }
                // The VAE: the model's own, or a file (remembered per model).
                RowLayout {
                    Layout.fillWidth: true
                    spacing: 6
                    FieldLabel { text: qsTr("VAE") }
                    Label {
                        objectName: "vaeLabel"
                        Layout.fillWidth: true
                        elide: Text.ElideMiddle
                        color: Theme.text
                        text: root.models && root.models.modelVaeName !== "" ? root.models.modelVaeName
                                                                          : qsTr("from the model")
                    }
                    ToolButton {
                        objectName: "vaeResetButton"
                        visible: root.models ? root.models.modelVaeName !== "" && root.models.modelState !== 1 : false
                        icon.source: "qrc:/daub/icons/close.svg"
                        icon.color: Theme.mutedText
                        onClicked: root.models.setModelVae("")
                        ToolTip.visible: hovered
                        ToolTip.text: qsTr("Use the model's own VAE")
                    }
                    Button {
                        objectName: "vaeButton"
                        text: qsTr("File…")
                        enabled: root.models ? root.models.modelState === 2 || root.models.modelState === 3 : false
                        onClicked: root.pickVaeFile()
                        ToolTip.visible: hovered
                        ToolTip.delay: 600
                        ToolTip.text: qsTr("A separate VAE for this model, e.g. vae-ft-mse-840000 (.safetensors, .ckpt, .pth)")
                    }
                }

                // ---- init image -------------------------------------------
                SectionTitle { text: qsTr("Start from an image") }
                InitImagePreview {
                    id: initPreview
                    Layout.fillWidth: true
                    source: root.intake ? root.intake.initImageSource : ""
                    name: root.intake ? root.intake.initImageName : ""
                    imageWidth: root.intake ? root.intake.initImageWidth : 0
                    imageHeight: root.intake ? root.intake.initImageHeight : 0
                    targetWidth: root.effectiveWidth
                    targetHeight: root.effectiveHeight
                    resizeMode: root.settings ? root.settings.resizeMode : "stretch"
                    onResizeModeSelected: (mode) => root.settings.resizeMode = mode
                    onRemoveRequested: root.removeInitImage()
                    canUpscale: root.models ? root.models.superResolutionAvailable : false
                    onUpscaleRequested: root.upscaleInitRequested()
                }
                StrengthSlider {
                    id: strength
                    Layout.fillWidth: true
                    hasInitImage: root.intake ? root.intake.hasInitImage : false
                    value: root.settings ? root.settings.strength : 0.75
                    steps: root.settings ? root.settings.steps : 20
                    stepsToRun: root.chat && root.chat.stepsToRun ? root.chat.stepsToRun(steps, value) : -1
                    onMoved: (v) => root.settings.strength = v
                }
                Rectangle {
                    Layout.fillWidth: true
                    visible: !(root.intake && root.intake.hasInitImage)
                    implicitHeight: hint.implicitHeight + 24
                    radius: Theme.smallRadius
                    color: "transparent"
                    border.color: Theme.border
                    RowLayout {
                        id: hint
                        anchors.fill: parent
                        anchors.margins: 12
                        spacing: 10
                        Image {
                            source: "qrc:/daub/icons/image.svg"
                            sourceSize: Qt.size(22, 22)
                            opacity: 0.5
                        }
                        Label {
                            Layout.fillWidth: true
                            text: qsTr("Drop an image on the chat or paste one (Ctrl+V) to start from it.")
                            wrapMode: Text.Wrap
                            color: Theme.mutedText
                            font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                        }
                        ToolButton {
                            icon.source: "qrc:/daub/icons/paste.svg"
                            icon.color: Theme.mutedText
                            onClicked: root.pasteRequested()
                            ToolTip.visible: hovered
                            ToolTip.text: qsTr("Paste an image")
                        }
                    }
                }

                // ---- the image -------------------------------------------
                SectionTitle { text: qsTr("Image") }
                GridLayout {
                    Layout.fillWidth: true
                    columns: 2
                    columnSpacing: 12
                    rowSpacing: 8

                    FieldLabel { text: qsTr("Size") }
                    ComboBox {
                        id: sizeCombo
                        objectName: "sizeCombo"
                        Layout.fillWidth: true
                        textRole: "label"
                        model: root.models ? root.models.sizePresets.concat([{ label: qsTr("Custom"), width: -1, height: -1 }]) : []
                        currentIndex: root.presetIndex()
                        onActivated: (index) => {
                            const p = model[index]
                            if (p.width >= 0) {
                                root.settings.width = p.width
                                root.settings.height = p.height
                            } else {
                                root.settings.width = root.effectiveWidth
                                root.settings.height = root.effectiveHeight
                            }
                        }
                    }

                    Item { width: 1; height: 1; visible: customSize.visible }
                    RowLayout {
                        id: customSize
                        Layout.fillWidth: true
                        visible: sizeCombo.currentIndex === sizeCombo.count - 1
                        SpinBox {
                            id: widthBox
                            objectName: "widthBox"
                            Layout.fillWidth: true
                            from: 64; to: 4096; stepSize: 8
                            editable: true
                            Binding on value { value: root.effectiveWidth }
                            onValueModified: root.settings.width = root.snap8(value)
                        }
                        Label { text: "\u00d7"; color: Theme.mutedText }
                        SpinBox {
                            id: heightBox
                            objectName: "heightBox"
                            Layout.fillWidth: true
                            from: 64; to: 4096; stepSize: 8
                            editable: true
                            Binding on value { value: root.effectiveHeight }
                            onValueModified: root.settings.height = root.snap8(value)
                        }
                    }

                    FieldLabel { text: qsTr("Steps") }
                    SpinBox {
                        objectName: "stepsBox"
                        Layout.fillWidth: true
                        from: 1; to: 150
                        editable: true
                        Binding on value { value: root.settings ? root.settings.steps : 20 }
                        onValueModified: root.settings.steps = value
                    }

                    FieldLabel { text: qsTr("Images") }
                    SpinBox {
                        objectName: "batchCountBox"
                        Layout.fillWidth: true
                        from: 1; to: 16
                        editable: true
                        Binding on value { value: root.settings && root.settings.batchCount ? root.settings.batchCount : 1 }
                        onValueModified: root.settings.batchCount = value
                        ToolTip.visible: hovered
                        ToolTip.delay: 600
                        ToolTip.text: qsTr("Images per Send, with seeds seed, seed+1, \u2026")
                    }

                    FieldLabel { text: qsTr("CFG") }
                    RowLayout {
                        Layout.fillWidth: true
                        Slider {
                            id: cfgSlider
                            objectName: "cfgSlider"
                            Layout.fillWidth: true
                            from: 1; to: 20; stepSize: 0.5
                            snapMode: Slider.SnapAlways
                            Binding on value { value: root.settings ? root.settings.cfgScale : 7 }
                            onMoved: root.settings.cfgScale = value
                            ToolTip.visible: hovered
                            ToolTip.delay: 600
                            ToolTip.text: qsTr("How closely to follow the prompt; 1 turns guidance off")
                        }
                        Label {
                            text: cfgSlider.value.toFixed(1)
                            color: Theme.text
                            Layout.preferredWidth: 30
                            horizontalAlignment: Text.AlignRight
                        }
                    }

                    FieldLabel { text: qsTr("Seed") }
                    RowLayout {
                        Layout.fillWidth: true
                        spacing: 2
                        TextField {
                            id: seedField
                            objectName: "seedField"
                            Layout.fillWidth: true
                            text: root.settings && root.settings.seed >= 0 ? String(root.settings.seed) : ""
                            placeholderText: qsTr("random")
                            validator: RegularExpressionValidator { regularExpression: /[0-9]{0,10}/ }
                            // Typing a seed locks it; the dice draws a new one.
                            onTextEdited: if (text !== "") {
                                root.settings.seed = Number(text)
                                root.settings.seedLocked = true
                            }
                        }
                        ToolButton {
                            objectName: "diceButton"
                            icon.source: "qrc:/daub/icons/dice.svg"
                            icon.color: Theme.text
                            onClicked: root.diceRequested()
                            ToolTip.visible: hovered
                            ToolTip.text: qsTr("A new random seed")
                        }
                        ToolButton {
                            objectName: "lockButton"
                            checkable: true
                            checked: root.settings ? root.settings.seedLocked : false
                            icon.source: checked ? "qrc:/daub/icons/lock.svg" : "qrc:/daub/icons/unlock.svg"
                            icon.color: checked ? Theme.accent : Theme.mutedText
                            onToggled: root.settings.seedLocked = checked
                            ToolTip.visible: hovered
                            ToolTip.text: checked ? qsTr("Seed locked: every image uses it")
                                                  : qsTr("Random seed for every image; click to lock")
                        }
                    }

                    FieldLabel { text: qsTr("Sampler") }
                    ComboBox {
                        objectName: "samplerCombo"
                        Layout.fillWidth: true
                        textRole: "label"
                        valueRole: "id"
                        model: root.models ? root.models.samplers : []
                        currentIndex: root.settings ? Math.max(0, indexOfValue(root.settings.sampler)) : 0
                        onActivated: root.settings.sampler = currentValue
                    }

                    FieldLabel { text: qsTr("CLIP skip") }
                    SpinBox {
                        objectName: "clipSkipBox"
                        Layout.fillWidth: true
                        from: 1; to: 4
                        Binding on value { value: root.settings ? root.settings.clipSkip : 1 }
                        onValueModified: root.settings.clipSkip = value
                        ToolTip.visible: hovered
                        ToolTip.delay: 600
                        ToolTip.text: qsTr("1 uses CLIP's last layer; 2 the one before (some anime models want it)")
                    }

                }

                // ---- super-resolution ------------------------------------
                SectionTitle { text: qsTr("Upscale") }
                GridLayout {
                    Layout.fillWidth: true
                    columns: 2
                    columnSpacing: 12
                    rowSpacing: 8

                    FieldLabel { text: qsTr("Upscaler") }
                    ComboBox {
                        id: upscalerCombo
                        objectName: "upscalerCombo"
                        Layout.fillWidth: true
                        textRole: "name"
                        // "None" first (no super-resolution), the upscalers
                        // found, then a file of the user's choosing.
                        model: [{ name: qsTr("None"), path: "", none: true }]
                               .concat(root.models ? root.models.foundUpscalers : [])
                               .concat([{ name: qsTr("Choose a file\u2026"), path: "" }])
                        displayText: root.models && root.models.upscalerName !== "" ? root.models.upscalerName
                                                                                : qsTr("None")
                        onActivated: (index) => {
                            const entry = model[index]
                            if (entry.none)
                                root.models.setUpscaler("")
                            else if (entry.path === "")
                                root.pickUpscalerFile()
                            else
                                root.models.setUpscaler(entry.path)
                        }
                        ToolTip.visible: hovered
                        ToolTip.delay: 600
                        ToolTip.text: qsTr("A Real-ESRGAN network (.pth or .safetensors), e.g. RealESRGAN_x4plus")
                    }

                    // Without an upscaler the row is disabled; the cell
                    // around it stays enabled so hovering explains why.
                    FieldLabel { text: qsTr("After each") }
                    Item {
                        id: superResCell
                        objectName: "superResolutionCell"
                        Layout.fillWidth: true
                        implicitWidth: superRes.implicitWidth
                        implicitHeight: superRes.implicitHeight
                        readonly property bool tipShown: superResHover.hovered && !superRes.enabled
                        HoverHandler { id: superResHover }
                        ToolTip.visible: tipShown
                        ToolTip.text: qsTr("Choose an upscaler first: a Real-ESRGAN .pth or .safetensors file.")

                        RowLayout {
                            id: superRes
                            objectName: "superResolutionRow"
                            anchors.fill: parent
                            enabled: root.models ? root.models.superResolutionAvailable : false
                            Switch {
                                id: superResSwitch
                                objectName: "superResolutionSwitch"
                                checked: root.settings ? root.settings.superResolution : false
                                onToggled: root.settings.superResolution = checked
                            }
                            ComboBox {
                                objectName: "superResolutionLevel"
                                Layout.fillWidth: true
                                model: ["2\u00d7", "4\u00d7"]
                                currentIndex: root.settings && root.settings.superResolutionLevel === 4 ? 1 : 0
                                onActivated: (index) => root.settings.superResolutionLevel = index === 1 ? 4 : 2
                                ToolTip.visible: hovered
                                ToolTip.delay: 600
                                ToolTip.text: qsTr("The factor for this option and for the Upscale actions")
                            }
                        }
                    }

                    FieldLabel { text: qsTr("Refine") }
                    RowLayout {
                        Layout.fillWidth: true
                        enabled: superRes.enabled
                        Switch {
                            id: refineSwitch
                            objectName: "refineSwitch"
                            enabled: superResSwitch.checked
                            checked: root.settings ? root.settings.refineUpscaled : false
                            onToggled: root.settings.refineUpscaled = checked
                            ToolTip.visible: hovered
                            ToolTip.delay: 600
                            ToolTip.text: qsTr("Upscale then refine (hires fix): img2img on the upscaled image, same prompt and seed")
                        }
                        Slider {
                            id: refineSlider
                            objectName: "refineStrength"
                            Layout.fillWidth: true
                            from: 0.05; to: 1; stepSize: 0.05
                            snapMode: Slider.SnapAlways
                            Binding on value { value: root.settings ? root.settings.refineStrength : 0.35 }
                            onMoved: root.settings.refineStrength = value
                            ToolTip.visible: hovered
                            ToolTip.delay: 600
                            ToolTip.text: qsTr("Denoise strength of the refine pass (also for the \u201cUpscale + refine\u201d action)")
                        }
                        Label {
                            text: refineSlider.value.toFixed(2)
                            color: Theme.text
                            Layout.preferredWidth: 30
                            horizontalAlignment: Text.AlignRight
                        }
                    }
                }

                // ---- output -----------------------------------------------
                SectionTitle { text: qsTr("Saving and look") }
                GridLayout {
                    Layout.fillWidth: true
                    columns: 2
                    columnSpacing: 12
                    rowSpacing: 8
                    FieldLabel { text: qsTr("Save to") }
                    RowLayout {
                        Layout.fillWidth: true
                        Label {
                            Layout.fillWidth: true
                            text: root.settings ? root.settings.saveFolder : ""
                            elide: Text.ElideMiddle
                            color: Theme.text
                        }
                        ToolButton {
                            objectName: "openSaveFolder"
                            icon.source: "qrc:/daub/icons/image.svg"
                            icon.color: Theme.mutedText
                            onClicked: Qt.openUrlExternally(root.settings.saveFolderUrl)
                            ToolTip.visible: hovered
                            ToolTip.text: qsTr("Open the save folder")
                        }
                        ToolButton {
                            icon.source: "qrc:/daub/icons/folder.svg"
                            icon.color: Theme.mutedText
                            onClicked: root.pickSaveFolder()
                            ToolTip.visible: hovered
                            ToolTip.text: qsTr("Choose the save folder")
                        }
                    }
                    FieldLabel { text: qsTr("Theme") }
                    ComboBox {
                        objectName: "themeCombo"
                        Layout.fillWidth: true
                        textRole: "label"
                        valueRole: "id"
                        model: [{ id: "system", label: qsTr("System") },
                                { id: "light", label: qsTr("Light") },
                                { id: "dark", label: qsTr("Dark") }]
                        currentIndex: root.settings ? Math.max(0, indexOfValue(root.settings.theme)) : 0
                        onActivated: root.settings.theme = currentValue
                    }
                }
            }
        }
    }
}
